//! ferrogate-trail
