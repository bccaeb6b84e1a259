//! Small XML helpers shared by the profiles that answer in XML.

use std::borrow::Cow;

/// Escapes text for an XML element or attribute value.
pub fn escape(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// The declaration JAXB prints before a document.
pub fn xml_declaration() -> &'static str {
    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#
}
