//! awsQuery: form parameters in, XML out (IAM `2010-05-08`, STS `2011-06-15`).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::error::ApiError;

/// The content type of query requests.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The content type of query responses.
pub const XML_CONTENT_TYPE: &str = "text/xml";

/// Decoded form parameters (body and URL query string together).
#[derive(Debug, Default, Clone)]
pub struct QueryParams {
    map: HashMap<String, String>,
}

impl QueryParams {
    /// Parses `application/x-www-form-urlencoded` text (`+` is a space here, unlike in
    /// SigV4's canonical query). Later duplicates win, as AWS's parser does.
    pub fn parse(parts: &[&[u8]]) -> Self {
        let mut map = HashMap::new();
        for part in parts {
            for (k, v) in form_urlencoded::parse(part) {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        Self { map }
    }

    /// A query-protocol request's parameters: the form-encoded body, then the URL query.
    /// In the URL query a `+` is a literal plus, as SigV4 signs it (its canonical query
    /// encodes `+` as `%2B`), not a space as in a form body: the parameters acted on are
    /// then exactly the ones that were signed.
    pub fn from_request(body: &[u8], url_query: &str) -> Self {
        let query = url_query.replace('+', "%2B");
        Self::parse(&[body, query.as_bytes()])
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// Every parameter name.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// The values of a list parameter `<name>.member.N` (N from 1, stopping at the first gap).
    pub fn members(&self, name: &str) -> Vec<&str> {
        (1..)
            .map_while(|i| {
                self.map
                    .get(&format!("{name}.member.{i}"))
                    .map(String::as_str)
            })
            .collect()
    }

    /// The entries of a list of structures `<name>.member.N.<field>`: one map per N.
    pub fn member_structs(&self, name: &str, fields: &[&str]) -> Vec<HashMap<String, String>> {
        let mut out = Vec::new();
        for i in 1.. {
            let mut m = HashMap::new();
            for f in fields {
                if let Some(v) = self.map.get(&format!("{name}.member.{i}.{f}")) {
                    m.insert((*f).to_owned(), v.clone());
                }
            }
            if m.is_empty() {
                break;
            }
            out.push(m);
        }
        out
    }
}

/// Escapes text for XML element content (the only place values are written; quotes need
/// no escaping there, and AWS leaves them as they are).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            // XML 1.0 has no way to carry these, not even as character references (a parser
            // refuses `&#x0;`): they are written as Java's `\uXXXX` escapes, so that a value
            // echoed in an error message still leaves a document every client can read.
            c if ((c as u32) < 0x20 && c != '\n' && c != '\t')
                || c == '\u{FFFE}'
                || c == '\u{FFFF}' =>
            {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Builds `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…` documents.
#[derive(Debug)]
pub struct XmlWriter {
    buf: String,
    action: String,
    result_open: bool,
}

impl XmlWriter {
    /// Starts the response to `action` in namespace `xmlns`.
    pub fn response(action: &str, xmlns: &str) -> Self {
        let mut buf = String::with_capacity(512);
        let _ = write!(
            buf,
            "<{action}Response xmlns=\"{xmlns}\">\n  <{action}Result>\n"
        );
        Self {
            buf,
            action: action.to_owned(),
            result_open: true,
        }
    }

    /// Starts a response without a result element (`DeleteUser` and friends).
    pub fn response_without_result(action: &str, xmlns: &str) -> Self {
        let mut buf = String::with_capacity(256);
        let _ = writeln!(buf, "<{action}Response xmlns=\"{xmlns}\">");
        Self {
            buf,
            action: action.to_owned(),
            result_open: false,
        }
    }

    /// Opens an element.
    pub fn open(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        self
    }

    /// Closes an element.
    pub fn close(&mut self, tag: &str) -> &mut Self {
        let _ = writeln!(self.buf, "</{tag}>");
        self
    }

    /// A text element.
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        let _ = writeln!(self.buf, "<{tag}>{}</{tag}>", escape(text));
        self
    }

    /// Text inside the element last opened.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.buf.push_str(&escape(text));
        self
    }

    /// A text element, only when there is a value.
    pub fn leaf_opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
        self
    }

    /// Finishes the document with `ResponseMetadata/RequestId`.
    pub fn finish(mut self, request_id: &str) -> String {
        let action = self.action.clone();
        if self.result_open {
            let _ = writeln!(self.buf, "</{action}Result>");
        }
        let _ = write!(
            self.buf,
            "<ResponseMetadata>\n<RequestId>{}</RequestId>\n</ResponseMetadata>\n</{action}Response>\n",
            escape(request_id)
        );
        self.buf
    }
}

/// The `<ErrorResponse>` document of a query service.
pub fn error_body(e: &ApiError, xmlns: &str, request_id: &str) -> String {
    let kind = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    format!(
        "<ErrorResponse xmlns=\"{xmlns}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        escape(e.code),
        escape(&e.message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_plus_in_the_url_query_is_a_plus_and_in_the_body_a_space() {
        let p = super::QueryParams::from_request(b"A=x+y", "B=x+y&C=x%20y");
        assert_eq!(p.get("A"), Some("x y"));
        assert_eq!(p.get("B"), Some("x+y"));
        assert_eq!(p.get("C"), Some("x y"));
    }

    use super::*;

    #[test]
    fn params_from_body_and_query() {
        let p = QueryParams::parse(&[
            b"Action=CreateUser&UserName=bob+smith&Path=%2Fa%2F",
            b"Version=2010-05-08",
        ]);
        assert_eq!(p.get("Action"), Some("CreateUser"));
        assert_eq!(p.get("UserName"), Some("bob smith"));
        assert_eq!(p.get("Path"), Some("/a/"));
        assert_eq!(p.get("Version"), Some("2010-05-08"));
        assert_eq!(p.get("Nope"), None);
    }

    #[test]
    fn lists() {
        let p = QueryParams::parse(&[b"Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=b&L.member.1=x&L.member.2=y&L.member.4=z"]);
        assert_eq!(p.members("L"), vec!["x", "y"]);
        let t = p.member_structs("Tags", &["Key", "Value"]);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["Value"], "1");
        assert!(!t[1].contains_key("Value"));
    }

    #[test]
    fn xml_escapes() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=\"x\"&gt;&amp;'");
        // No character reference can carry a control character in XML 1.0.
        assert_eq!(escape("a\u{1}b\u{0}"), "a\\u0001b\\u0000");
        assert_eq!(escape("a\rb\tc\n"), "a&#xD;b\tc\n");
    }

    #[test]
    fn response_document() {
        let mut w = XmlWriter::response("GetUser", "https://iam.amazonaws.com/doc/2010-05-08/");
        w.open("User").leaf("UserName", "b<b").close("User");
        let doc = w.finish("rid");
        assert!(doc
            .starts_with("<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"));
        assert!(doc.contains("<UserName>b&lt;b</UserName>"));
        assert!(doc.contains("</GetUserResult>"));
        assert!(doc.contains("<RequestId>rid</RequestId>"));
        let e = ApiError {
            code: "NoSuchEntity",
            status: 404,
            message: "x".into(),
            internal: false,
        };
        let err = error_body(&e, "ns", "rid");
        assert!(err.contains("<Type>Sender</Type>") && err.contains("<Code>NoSuchEntity</Code>"));
    }
}
