//! Placeholder: the pn532 codec lands here (issue 7).
