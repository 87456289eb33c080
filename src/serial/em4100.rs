//! Placeholder: the em4100 codec lands here (issue 7).
