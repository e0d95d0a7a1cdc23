// The SVG writer: escaping, number format, well-formed documents; and the test XML reader
// itself, which must reject what a browser's XML parser rejects.
#include "shrink/report/svg.hpp"

#include "shrink/core/error.hpp"
#include "support/xml.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace shrink {
namespace {

using testing::find_all;
using testing::parse_xml;

TEST(Svg, EscapesTextAndAttributes) {
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  EXPECT_EQ(xml_escape(std::string("bell\x07tab\t")), "belltab\t");  // XML forbids control chars
  Svg svg(100, 50);
  svg.title("Tom & Jerry's <plot>");
  svg.text(10, 20, "x < y && \"z\"", TextAnchor::Middle, {{"data-note", "<&>"}});
  const auto root = parse_xml(svg.str());
  EXPECT_EQ(root.name, "svg");
  EXPECT_EQ(root.attributes.at("xmlns"), "http://www.w3.org/2000/svg");
  EXPECT_EQ(find_all(root, "title")[0]->text, "Tom & Jerry's <plot>");
  const auto* text = find_all(root, "text")[0];
  EXPECT_EQ(text->text, "x < y && \"z\"");
  EXPECT_EQ(text->attributes.at("text-anchor"), "middle");
  EXPECT_EQ(text->attributes.at("data-note"), "<&>");
}

TEST(Svg, NumbersHaveAtMostTwoDecimals) {
  EXPECT_EQ(svg_number(12.5), "12.5");
  EXPECT_EQ(svg_number(3.0), "3");
  EXPECT_EQ(svg_number(-0.001), "0");
  EXPECT_EQ(svg_number(1.23456), "1.23");
  EXPECT_EQ(svg_number(-7.006), "-7.01");
  EXPECT_THROW(svg_number(std::nan("")), Error);
}

TEST(Svg, ShapesGroupsClipsAndTooltips) {
  Svg svg(200, 100);
  svg.begin_group({{"stroke", "#000"}});
  svg.rect(1, 2, 3, 4);
  svg.line(0, 0, 10, 10);
  svg.end();
  svg.begin_clip(10, 10, 50, 50);
  svg.tooltip("point 1: acc 0.9");
  svg.circle(20, 20, 3);
  svg.polyline({{0, 0}, {1.5, 2.25}});
  svg.end();
  const auto root = parse_xml(svg.str());
  ASSERT_EQ(find_all(root, "g").size(), 1u);
  EXPECT_EQ(find_all(root, "g")[0]->children.size(), 2u);
  const auto nested = find_all(root, "svg");
  ASSERT_EQ(nested.size(), 2u);  // the document and the clip viewport
  EXPECT_EQ(nested[1]->attributes.at("viewBox"), "10 10 50 50");
  const auto* circle = find_all(root, "circle")[0];
  ASSERT_EQ(circle->children.size(), 1u);
  EXPECT_EQ(circle->children[0].text, "point 1: acc 0.9");
  EXPECT_EQ(find_all(root, "polyline")[0]->attributes.at("points"), "0,0 1.5,2.25");
  // The tooltip belonged to the circle only.
  EXPECT_TRUE(find_all(root, "polyline")[0]->children.empty());
}

TEST(Svg, UnbalancedGroupsAreAnInternalError) {
  Svg open(10, 10);
  open.begin_group();
  EXPECT_THROW(open.str(), Error);
  Svg closed(10, 10);
  EXPECT_THROW(closed.end(), Error);
}

TEST(Svg, EmbedsPngAsBase64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  Svg svg(10, 10);
  svg.png_image(0, 0, 10, 10, std::string("\x89PNG", 4));
  const auto root = parse_xml(svg.str());
  EXPECT_EQ(find_all(root, "image")[0]->attributes.at("href"), "data:image/png;base64,iVBORw==");
}

TEST(XmlReader, RejectsMalformedDocuments) {
  for (const char* bad : {"<a><b></a></b>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a>&nbsp;</a>",
                          "<a>", "<a/><b/>", "<a x=\"<\"/>", "<a>& b</a>", "text"})
    EXPECT_THROW(parse_xml(bad), std::runtime_error) << bad;
  EXPECT_NO_THROW(parse_xml("<?xml version=\"1.0\"?><!DOCTYPE html><!-- c --><a x='1'>&#160;&#x41;<b/></a>"));
  EXPECT_EQ(parse_xml("<a>&#x41;&lt;</a>").text, "A<");
}

}  // namespace
}  // namespace shrink
