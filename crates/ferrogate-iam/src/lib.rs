//! ferrogate-iam
