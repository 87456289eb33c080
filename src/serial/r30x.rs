//! Placeholder: the r30x codec lands here (issue 7).
