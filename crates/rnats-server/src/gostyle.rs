//! Texts in Go's words, for messages that must read as nats-server's.

/// An OS error in Go's words: "no such process", not
/// "No such process (os error 3)".
pub fn go_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(cut) => &text[..cut],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
