//! Messages on the command line and on the screen: `-H key:value` headers, the body (argument
//! or stdin) with `{{Count}}` in it, `--timeout` durations, and the printed form of a message.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use async_nats::{HeaderMap, HeaderName, HeaderValue, Message};
use bytes::Bytes;

use crate::keys::Result;

/// What `{{Count}}` in a body or header value becomes: the message's number, from 1.
const COUNT: &str = "{{Count}}";

/// A header from `-H key:value`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// The clap value parser of `-H`.
pub fn parse_header(s: &str) -> std::result::Result<Header, String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| "expected KEY:VALUE".to_string())?;
    let (name, value) = (name.trim(), value.trim());
    name.parse::<HeaderName>()
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    value
        .parse::<HeaderValue>()
        .map_err(|_| format!("{value:?} is not a valid header value"))?;
    Ok(Header {
        name: name.into(),
        value: value.into(),
    })
}

/// A body or header value with `{{Count}}` replaced for each message.
#[derive(Debug, Clone)]
pub struct Template {
    /// The text around each `{{Count}}`.
    parts: Vec<Bytes>,
}

impl Template {
    pub fn new(text: impl Into<Bytes>) -> Template {
        let text: Bytes = text.into();
        let mut parts = Vec::new();
        let mut rest = text.clone();
        while let Some(at) = memchr::memmem::find(&rest, COUNT.as_bytes()) {
            parts.push(rest.slice(..at));
            rest = rest.slice(at + COUNT.len()..);
        }
        parts.push(rest);
        Template { parts }
    }

    /// The text for message number `n`.
    pub fn render(&self, n: u64) -> Bytes {
        if let [only] = &self.parts[..] {
            return only.clone();
        }
        let n = n.to_string();
        let mut out = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(n.as_bytes());
            }
            out.extend_from_slice(part);
        }
        out.into()
    }
}

/// The headers of `-H` flags, templated.
#[derive(Debug, Clone)]
pub struct Headers(Vec<(String, Template)>);

impl Headers {
    pub fn new(headers: &[Header]) -> Headers {
        Headers(
            headers
                .iter()
                .map(|h| (h.name.clone(), Template::new(h.value.clone())))
                .collect(),
        )
    }

    /// The header map for message number `n`, or None without headers.
    pub fn render(&self, n: u64) -> Option<HeaderMap> {
        if self.0.is_empty() {
            return None;
        }
        let mut map = HeaderMap::new();
        for (name, value) in &self.0 {
            // Both were checked by `parse_header`, and digits are a valid value.
            if let (Ok(name), Ok(value)) = (
                name.parse::<HeaderName>(),
                String::from_utf8_lossy(&value.render(n)).parse::<HeaderValue>(),
            ) {
                map.append(name, value);
            }
        }
        Some(map)
    }
}

/// The body argument, or all of stdin without one.
pub fn body(arg: Option<&str>) -> Result<Bytes> {
    if let Some(body) = arg {
        return Ok(Bytes::copy_from_slice(body.as_bytes()));
    }
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Reading the body from stdin (end with Ctrl-D)");
    }
    let mut body = Vec::new();
    stdin
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot read the body from stdin: {e}"))?;
    Ok(body.into())
}

/// The clap value parser of `--timeout`: Go durations (`2s`, `500ms`, `1m30s`, read as the
/// config file reads them), or seconds.
pub fn parse_timeout(s: &str) -> std::result::Result<Duration, String> {
    let text = s.trim();
    let duration = match text.parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds).ok(),
        Err(_) => rnats_conf::parse_duration(text).ok(),
    };
    match duration {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err(format!("{s:?}: the timeout must be more than 0")),
        None => Err(format!("invalid duration {s:?} (e.g. 2s, 500ms, 1m)")),
    }
}

/// `[#n] Received on "subject" with reply "reply"`, the headers, a blank line, the body and a
/// blank line.
pub fn print_received(out: &mut impl Write, n: u64, msg: &Message) -> std::io::Result<()> {
    write!(out, "[#{n}] Received on {:?}", msg.subject.as_str())?;
    if let Some(reply) = &msg.reply {
        write!(out, " with reply {:?}", reply.as_str())?;
    }
    if let Some(status) = msg.status {
        write!(out, " with status {status}")?;
        if let Some(description) = &msg.description {
            write!(out, " ({description})")?;
        }
    }
    writeln!(out)?;
    print_content(out, msg)?;
    writeln!(out)?;
    out.flush()
}

/// The headers (`Key: value`, sorted by key, then a blank line) and the body.
pub fn print_content(out: &mut impl Write, msg: &Message) -> std::io::Result<()> {
    if let Some(headers) = msg.headers.as_ref().filter(|h| !h.is_empty()) {
        let mut lines: Vec<(&str, &str)> = headers
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| (name.as_ref(), v.as_str())))
            .collect();
        lines.sort_by_key(|&(name, _)| name);
        for (name, value) in lines {
            writeln!(out, "{name}: {value}")?;
        }
        writeln!(out)?;
    }
    out.write_all(&msg.payload)?;
    writeln!(out)?;
    out.flush()
}

/// A write to stdout that failed: a closed pipe (`| head`) just ends the command.
pub fn output_error(e: std::io::Error) -> Option<String> {
    (e.kind() != std::io::ErrorKind::BrokenPipe).then(|| format!("cannot write to stdout: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        assert_eq!(
            parse_header("Key: some value ").unwrap(),
            Header {
                name: "Key".into(),
                value: "some value".into()
            }
        );
        assert_eq!(parse_header("a:b:c").unwrap().value, "b:c");
        assert!(parse_header("novalue").is_err());
        assert!(parse_header("bad key:v").is_err());
    }

    #[test]
    fn count_is_replaced() {
        let t = Template::new("msg {{Count}} of {{Count}}");
        assert_eq!(&t.render(7)[..], b"msg 7 of 7");
        assert_eq!(&Template::new("plain").render(3)[..], b"plain");
        assert_eq!(&Template::new("{{Count}}").render(12)[..], b"12");
        assert_eq!(&Template::new("").render(1)[..], b"");

        let headers = Headers::new(&[parse_header("N:{{Count}}").unwrap()]);
        let map = headers.render(4).unwrap();
        assert_eq!(map.get("N").map(|v| v.as_str()), Some("4"));
        assert!(Headers::new(&[]).render(1).is_none());
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_timeout("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_timeout("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_timeout("1.5").unwrap(), Duration::from_millis(1500));
        for bad in ["", "0", "0s", "-1s", "2x", "s", "1s2"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn received_messages_print() {
        let mut headers = HeaderMap::new();
        headers.insert("B", "2");
        headers.insert("A", "1");
        let msg = Message {
            subject: "foo".into(),
            reply: Some("bar".into()),
            payload: "hello".into(),
            headers: Some(headers),
            status: None,
            description: None,
            length: 0,
        };
        let mut out = Vec::new();
        print_received(&mut out, 3, &msg).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[#3] Received on \"foo\" with reply \"bar\"\nA: 1\nB: 2\n\nhello\n\n"
        );
    }
}
