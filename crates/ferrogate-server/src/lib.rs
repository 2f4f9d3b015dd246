//! ferrogate-server
