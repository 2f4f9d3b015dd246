//! ferrogate-wire
