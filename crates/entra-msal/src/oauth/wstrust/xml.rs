//! A small namespace-aware XML tree built with `quick-xml`: elements by (namespace URI, local
//! name), their attributes, their text, and the byte span of their content in the original
//! document (a SAML assertion must be passed on byte for byte, or its signature breaks).

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The deepest nesting accepted; deeper documents are refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

/// One element of a parsed document.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    /// The namespace URI (empty when the element has none).
    pub ns: String,
    /// The local name.
    pub name: String,
    /// Attributes as (namespace URI, local name, value).
    attributes: Vec<(String, String, String)>,
    /// Child elements, in document order.
    pub children: Vec<Element>,
    /// The element's own text (character data and references, unescaped), concatenated.
    pub text: String,
    /// The bytes between the end of the start tag and the start of the end tag.
    pub inner: Range<usize>,
}

impl Element {
    /// Whether this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// An attribute without a namespace prefix.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attr_ns("", name)
    }

    /// An attribute in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, l, _)| n == ns && l == name)
            .map(|(_, _, v)| v.as_str())
    }

    /// The children named `{ns}name`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The first child named `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// The first element reached by following `path` (each step a child `(ns, name)`), trying
    /// every branch.
    pub fn find_path(&self, path: &[(&str, &str)]) -> Option<&Element> {
        let Some(((ns, name), rest)) = path.split_first() else {
            return Some(self);
        };
        self.children
            .iter()
            .filter(|c| c.is(ns, name))
            .find_map(|child| child.find_path(rest))
    }

    /// Every element below this one, depth first, in document order.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(e) = stack.pop() {
            out.push(e);
            stack.extend(e.children.iter().rev());
        }
        out
    }

    /// The trimmed text of this element.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }
}

/// Parses a whole document into its root element; the error says what is wrong.
pub(crate) fn parse(document: &str) -> Result<Element, String> {
    let mut reader = NsReader::from_str(document);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let before = position(&reader);
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML at byte {before}: {e}"))?;
        let ns = namespace(&resolved)?;
        match event {
            Event::Start(start) => {
                let element = open(&reader, &start, ns, stack.len())?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open(&reader, &start, ns, stack.len())?;
                attach(&mut stack, &mut root, element)?;
            }
            Event::End(_) => {
                let mut element = stack.pop().ok_or("an end tag without a start tag")?;
                element.inner.end = before;
                attach(&mut stack, &mut root, element)?;
            }
            Event::Text(text) => {
                let text = text.decode().map_err(|e| format!("bad text: {e}"))?;
                append_text(&mut stack, &text)?;
            }
            Event::CData(data) => {
                let text = data.decode().map_err(|e| format!("bad CDATA: {e}"))?;
                append_text(&mut stack, &text)?;
            }
            Event::GeneralRef(reference) => {
                let name = reference
                    .decode()
                    .map_err(|e| format!("bad reference: {e}"))?;
                let reference = format!("&{name};");
                let text = quick_xml::escape::unescape(&reference)
                    .map_err(|e| format!("unknown reference {reference}: {e}"))?;
                append_text(&mut stack, &text)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "the document has no element".into())
}

/// An element from its start tag (its content span begins where the tag ends).
fn open(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    ns: String,
    depth: usize,
) -> Result<Element, String> {
    if depth >= MAX_DEPTH {
        return Err(format!("elements nested deeper than {MAX_DEPTH}"));
    }
    let name = utf8(start.local_name().as_ref())?;
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| format!("bad attribute: {e}"))?;
        let key = attribute.key;
        if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
            continue;
        }
        let (attr_ns, local) = reader.resolver().resolve_attribute(key);
        let attr_ns = namespace(&attr_ns)?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad attribute value: {e}"))?;
        attributes.push((attr_ns, utf8(local.as_ref())?, value.into_owned()));
    }
    let after = position(reader);
    Ok(Element {
        ns,
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
        inner: after..after,
    })
}

fn position(reader: &NsReader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

fn namespace(resolved: &ResolveResult<'_>) -> Result<String, String> {
    match resolved {
        ResolveResult::Bound(ns) => utf8(ns.as_ref()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(format!(
            "the prefix {:?} is not declared",
            String::from_utf8_lossy(prefix)
        )),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| "a name is not UTF-8".into())
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("more than one root element".into()),
    }
    Ok(())
}

fn append_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(element) => element.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err("text outside the root element".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_attributes_text_and_spans() {
        let doc = r#"<?xml version="1.0"?><a:root xmlns:a="urn:a" xmlns:b="urn:b" b:id="x" plain="1&amp;2"><b:leaf>t &lt; u<![CDATA[<v>]]></b:leaf><a:empty/></a:root>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:a", "root"));
        assert_eq!(root.attr_ns("urn:b", "id"), Some("x"));
        assert_eq!(root.attr("plain"), Some("1&2"));
        let leaf = root.child("urn:b", "leaf").unwrap();
        assert_eq!(leaf.text, "t < u<v>");
        assert_eq!(&doc[leaf.inner.clone()], "t &lt; u<![CDATA[<v>]]>");
        assert!(root.find_path(&[("urn:a", "empty")]).is_some());
        assert_eq!(root.descendants().len(), 2);
        assert!(root.child("urn:a", "empty").unwrap().inner.is_empty());
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "",
            "not xml",
            "<a>",
            "<a></b>",
            "<p:a/>",
            "<a/><b/>",
            "<a>&bogus;</a>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).unwrap_err().contains("deeper"));
    }
}
