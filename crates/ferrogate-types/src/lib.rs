//! ferrogate-types
