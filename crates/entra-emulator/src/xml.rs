//! XML for the emulated federation server: escaping, and a flat, namespace-resolved reading of
//! a document (each element with its path of local names, namespace, attributes and text) that
//! the WS-Trust endpoint and the SAML checks query.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The deepest nesting read.
const MAX_DEPTH: usize = 64;

/// One element of a document.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// Local names from the root down to this element.
    pub path: Vec<String>,
    /// The element's namespace URI.
    pub ns: String,
    /// Attributes by local name (any prefix), unescaped.
    pub attributes: Vec<(String, String)>,
    /// The element's own text, unescaped.
    pub text: String,
}

impl Node {
    /// Whether the path ends with `suffix`.
    pub fn ends_with(&self, suffix: &[&str]) -> bool {
        self.path.len() >= suffix.len()
            && self.path[self.path.len() - suffix.len()..]
                .iter()
                .zip(suffix)
                .all(|(a, b)| a == b)
    }

    /// An attribute by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A document's elements in document order (the root first).
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Every element.
    pub nodes: Vec<Node>,
}

impl Document {
    /// Reads `text`; the error says why it is not well-formed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reader = NsReader::from_str(text);
        let mut nodes: Vec<Node> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut roots = 0;
        loop {
            let (resolved, event) = reader
                .read_resolved_event()
                .map_err(|e| format!("not well-formed XML: {e}"))?;
            let ns = match resolved {
                ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(p) => {
                    return Err(format!(
                        "undeclared prefix {:?}",
                        String::from_utf8_lossy(&p)
                    ));
                }
            };
            let opens = matches!(event, Event::Start(_) | Event::Empty(_));
            if opens && (open.len() >= MAX_DEPTH || (open.is_empty() && roots > 0)) {
                return Err("too deep, or more than one root element".into());
            }
            match event {
                Event::Start(start) => {
                    roots += usize::from(open.is_empty());
                    nodes.push(node(&nodes, &open, &start, ns)?);
                    open.push(nodes.len() - 1);
                }
                Event::Empty(start) => {
                    roots += usize::from(open.is_empty());
                    nodes.push(node(&nodes, &open, &start, ns)?);
                }
                Event::End(_) => {
                    open.pop();
                }
                Event::Text(t) => {
                    push_text(&mut nodes, &open, &t.decode().map_err(|e| e.to_string())?)?
                }
                Event::CData(t) => {
                    push_text(&mut nodes, &open, &t.decode().map_err(|e| e.to_string())?)?
                }
                Event::GeneralRef(r) => {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    let reference = format!("&{name};");
                    let text = quick_xml::escape::unescape(&reference)
                        .map_err(|e| format!("unknown reference {reference}: {e}"))?;
                    push_text(&mut nodes, &open, &text)?;
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !open.is_empty() || nodes.is_empty() {
            return Err("the document is incomplete".into());
        }
        Ok(Self { nodes })
    }

    /// The root element.
    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    /// The first element whose path ends with `suffix`.
    pub fn find(&self, suffix: &[&str]) -> Option<&Node> {
        self.nodes.iter().find(|n| n.ends_with(suffix))
    }

    /// The trimmed text of the first element whose path ends with `suffix`.
    pub fn text(&self, suffix: &[&str]) -> Option<&str> {
        self.find(suffix).map(|n| n.text.trim())
    }
}

fn node(
    nodes: &[Node],
    open: &[usize],
    start: &BytesStart<'_>,
    ns: String,
) -> Result<Node, String> {
    let mut path = open
        .last()
        .map(|&i| nodes[i].path.clone())
        .unwrap_or_default();
    path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
    let mut attributes = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        if a.key.as_ref() == b"xmlns" || a.key.as_ref().starts_with(b"xmlns:") {
            continue;
        }
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad attribute: {e}"))?;
        attributes.push((
            String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(Node {
        path,
        ns,
        attributes,
        text: String::new(),
    })
}

fn push_text(nodes: &mut [Node], open: &[usize], text: &str) -> Result<(), String> {
    match open.last() {
        Some(&i) => nodes[i].text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err("text outside the root element".into()),
    }
    Ok(())
}

/// Escapes text or an attribute value (`&`, `<`, `>`, `"`, `'`).
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paths_namespaces_text_and_attributes() {
        let d = Document::parse(
            r#"<s:E xmlns:s="urn:s"><s:H><u:User xmlns:u="urn:u" u:Id="1">a&amp;b</u:User></s:H></s:E>"#,
        )
        .unwrap();
        assert_eq!(d.root().ns, "urn:s");
        let user = d.find(&["H", "User"]).unwrap();
        assert_eq!(user.ns, "urn:u");
        assert_eq!(user.text, "a&b");
        assert_eq!(user.attr("Id"), Some("1"));
        assert_eq!(escape(r#"<a&'">"#), "&lt;a&amp;&apos;&quot;&gt;");
        for bad in ["", "x", "<a>", "<a/><b/>", "<p:a/>"] {
            assert!(Document::parse(bad).is_err(), "{bad}");
        }
    }
}
