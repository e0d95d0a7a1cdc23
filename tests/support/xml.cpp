#include "support/xml.hpp"

#include <cctype>
#include <stdexcept>

namespace shrink::testing {
namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  XmlElement document() {
    skip_prolog();
    if (!starts("<")) fail("expected the root element");
    XmlElement root = element();
    skip_misc();
    if (pos_ != s_.size()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML error at byte " + std::to_string(pos_) + ": " + what + " near '" +
                             s_.substr(pos_, 40) + "'");
  }
  bool starts(const char* prefix) const { return s_.compare(pos_, std::char_traits<char>::length(prefix), prefix) == 0; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void skip_until(const char* end) {
    const size_t at = s_.find(end, pos_);
    if (at == std::string::npos) fail(std::string("missing '") + end + "'");
    pos_ = at + std::char_traits<char>::length(end);
  }
  void skip_misc() {
    for (;;) {
      skip_space();
      if (starts("<!--")) skip_until("-->");
      else return;
    }
  }
  void skip_prolog() {
    skip_space();
    if (starts("<?xml")) skip_until("?>");
    skip_misc();
    if (starts("<!DOCTYPE") || starts("<!doctype")) skip_until(">");
    skip_misc();
  }
  std::string name() {
    const size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
                                s_[pos_] == '_' || s_[pos_] == ':' || s_[pos_] == '.'))
      ++pos_;
    if (pos_ == start || std::isdigit(static_cast<unsigned char>(s_[start]))) fail("expected a name");
    return s_.substr(start, pos_ - start);
  }
  // Character data up to the next '<' (or the closing quote), entities decoded.
  std::string chars(char stop) {
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != stop) {
      const char c = s_[pos_];
      if (c == '<') fail("'<' inside an attribute value");
      if (c == '&') {
        const size_t end = s_.find(';', pos_);
        if (end == std::string::npos || end - pos_ > 10) fail("unterminated entity");
        const std::string entity = s_.substr(pos_ + 1, end - pos_ - 1);
        if (entity == "amp") out += '&';
        else if (entity == "lt") out += '<';
        else if (entity == "gt") out += '>';
        else if (entity == "quot") out += '"';
        else if (entity == "apos") out += '\'';
        else if (entity.size() > 1 && entity[0] == '#') {
          const bool hex = entity[1] == 'x';
          const std::string digits = entity.substr(hex ? 2 : 1);
          if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") !=
                                    std::string::npos)
            fail("bad character reference");
          unsigned long code = std::stoul(digits, nullptr, hex ? 16 : 10);
          // UTF-8 encode.
          if (code < 0x80) out += static_cast<char>(code);
          else if (code < 0x800) out += static_cast<char>(0xC0 | (code >> 6)), out += static_cast<char>(0x80 | (code & 63));
          else if (code < 0x10000) out += static_cast<char>(0xE0 | (code >> 12)), out += static_cast<char>(0x80 | ((code >> 6) & 63)), out += static_cast<char>(0x80 | (code & 63));
          else out += static_cast<char>(0xF0 | (code >> 18)), out += static_cast<char>(0x80 | ((code >> 12) & 63)), out += static_cast<char>(0x80 | ((code >> 6) & 63)), out += static_cast<char>(0x80 | (code & 63));
        } else {
          fail("unknown entity &" + entity + "; (XML knows only amp, lt, gt, quot, apos)");
        }
        pos_ = end + 1;
        continue;
      }
      out += c;
      ++pos_;
    }
    return out;
  }
  XmlElement element() {
    ++pos_;  // '<'
    XmlElement e;
    e.name = name();
    for (;;) {
      const size_t before = pos_;
      skip_space();
      if (starts("/>")) {
        pos_ += 2;
        return e;
      }
      if (starts(">")) {
        ++pos_;
        break;
      }
      if (pos_ == before) fail("expected whitespace between attributes");
      const std::string key = name();
      skip_space();
      if (!starts("=")) fail("attribute " + key + " has no value");
      ++pos_;
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) fail("attribute " + key + " is not quoted");
      const char quote = s_[pos_++];
      std::string value = chars(quote);
      if (pos_ >= s_.size()) fail("unterminated attribute " + key);
      ++pos_;
      if (!e.attributes.emplace(key, value).second) fail("duplicate attribute " + key);
    }
    for (;;) {
      if (pos_ >= s_.size()) fail("<" + e.name + "> is never closed");
      if (starts("<!--")) {
        skip_until("-->");
      } else if (starts("<![CDATA[")) {
        const size_t start = pos_ + 9;
        skip_until("]]>");
        e.text += s_.substr(start, pos_ - 3 - start);
      } else if (starts("</")) {
        pos_ += 2;
        const std::string closing = name();
        if (closing != e.name) fail("</" + closing + "> closes <" + e.name + ">");
        skip_space();
        if (!starts(">")) fail("expected '>'");
        ++pos_;
        return e;
      } else if (starts("<")) {
        e.children.push_back(element());
      } else {
        e.text += chars('<');
      }
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
};

void collect(const XmlElement& e, const std::string& name, std::vector<const XmlElement*>& out) {
  if (e.name == name) out.push_back(&e);
  for (const auto& child : e.children) collect(child, name, out);
}

}  // namespace

XmlElement parse_xml(const std::string& document) { return Parser(document).document(); }

std::vector<const XmlElement*> find_all(const XmlElement& root, const std::string& name) {
  std::vector<const XmlElement*> out;
  collect(root, name, out);
  return out;
}

std::string all_text(const XmlElement& element) {
  std::string text = element.text;
  for (const auto& child : element.children) text += all_text(child);
  return text;
}

}  // namespace shrink::testing
