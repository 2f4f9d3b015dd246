//! ferrogate-store
