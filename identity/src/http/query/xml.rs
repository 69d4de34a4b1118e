//! A small XML writer for the query protocol's answers: elements and escaped text, no
//! attributes but the root's namespace.

use std::fmt::Write as _;

/// An XML document being written.
#[derive(Debug)]
pub(crate) struct Xml {
    out: String,
}

/// Escapes text for element content.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters even escaped; they never occur in
            // what gatehouse stores, but a stray one must not break the document.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "&#xFFFD;");
            }
            c => out.push(c),
        }
    }
}

impl Xml {
    pub(crate) fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    /// `<tag>` or `<tag xmlns="…">`.
    pub(crate) fn open(&mut self, tag: &str, namespace: Option<&str>) {
        self.out.push('<');
        self.out.push_str(tag);
        if let Some(ns) = namespace {
            self.out.push_str(" xmlns=\"");
            escape(ns, &mut self.out);
            self.out.push('"');
        }
        self.out.push('>');
    }

    pub(crate) fn close(&mut self, tag: &str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// `<tag>text</tag>`.
    pub(crate) fn leaf(&mut self, tag: &str, text: &str) {
        self.open(tag, None);
        escape(text, &mut self.out);
        self.close(tag);
    }

    /// Escaped text inside the element being written.
    pub(crate) fn text(&mut self, text: &str) {
        escape(text, &mut self.out);
    }

    /// A leaf only when `text` is present.
    pub(crate) fn opt(&mut self, tag: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(tag, text);
        }
    }

    /// `<tag><member>…</member>…</tag>`, each member written by `item`.
    pub(crate) fn members<T>(
        &mut self,
        tag: &str,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T),
    ) {
        self.open(tag, None);
        for value in items {
            self.open("member", None);
            item(self, value);
            self.close("member");
        }
        self.close(tag);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}
