#pragma once
// A strict little XML reader for tests: checks that an SVG (or an HTML page written as XML)
// is well-formed — every tag closed in order, every attribute quoted and unique, only the five
// XML entities and character references — and gives back the element tree to inspect.
#include <map>
#include <string>
#include <vector>

namespace shrink::testing {

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;  // values with entities decoded
  std::vector<XmlElement> children;
  std::string text;  // the element's own character data, decoded, children's excluded
};

// Parses a document with one root element (an <?xml?> declaration, <!DOCTYPE ...> and comments
// may precede it). Throws std::runtime_error naming the byte offset of the first fault.
XmlElement parse_xml(const std::string& document);

// Every element named `name` in the tree, in document order (the root included).
std::vector<const XmlElement*> find_all(const XmlElement& root, const std::string& name);
// The element's own text followed by that of its descendants (depth first).
std::string all_text(const XmlElement& element);

}  // namespace shrink::testing
