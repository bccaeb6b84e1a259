//! Small XML helpers shared by the profiles that answer in XML.

use std::borrow::Cow;

/// Escapes text for an XML element or attribute value (`<`, `>`, `&`, `'`, `"`).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !has_any(text, b"<>&'\"") {
        return Cow::Borrowed(text);
    }
    quick_xml::escape::escape(text)
}

/// Escapes element text as JAXB does (`<`, `>`, `&` only).
pub fn partial_escape(text: &str) -> Cow<'_, str> {
    if !has_any(text, b"<>&") {
        return Cow::Borrowed(text);
    }
    quick_xml::escape::partial_escape(text)
}

/// Whether `text` has any of `special`, checked without a branch a byte: most text (tokens,
/// names, dates) has none, and quick_xml looks byte by byte through a closure.
fn has_any(text: &str, special: &[u8]) -> bool {
    text.bytes().fold(false, |found, b| found | special.iter().fold(false, |f, &s| f | (b == s)))
}

/// The declaration JAXB prints before a document.
pub fn xml_declaration() -> &'static str {
    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn escapes_as_quick_xml_does(s in "[a-z<>&'\"é ]{0,12}") {
            prop_assert_eq!(escape(&s), quick_xml::escape::escape(&s));
            prop_assert_eq!(partial_escape(&s), quick_xml::escape::partial_escape(&s));
        }
    }
}
