#include "shrink/data/csv.hpp"

#include "shrink/core/error.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace shrink {
namespace {

Dataset parse(const std::string& text, CsvOptions options = {}) {
  std::istringstream in(text);
  return parse_csv(in, "t.csv", options, "t");
}

std::string error_of(const std::string& text, CsvOptions options = {}) {
  try {
    parse(text, options);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::BadInput);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return "";
}

TEST(Csv, ParsesFeaturesAndLastColumnLabel) {
  const Dataset d = parse("1.5, -2, 0\n\n3e2,+4,2\r\n  0.25 ,1e-3, 1\n");
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.sample_shape, (Shape{2}));
  EXPECT_EQ(d.num_classes, 3);
  EXPECT_EQ(d.labels(), (std::vector<int32_t>{0, 2, 1}));
  EXPECT_FLOAT_EQ(d.raw(0, 0), 1.5f);
  EXPECT_FLOAT_EQ(d.raw(0, 1), -2.0f);
  EXPECT_FLOAT_EQ(d.raw(1, 0), 300.0f);
  EXPECT_FLOAT_EQ(d.raw(1, 1), 4.0f);
  EXPECT_FLOAT_EQ(d.raw(2, 0), 0.25f);
  EXPECT_FLOAT_EQ(d.raw(2, 1), 0.001f);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0", "1", "2"}));
}

TEST(Csv, LabelColumnByIndexOrHeaderName) {
  CsvOptions first;
  first.label_column = "0";
  Dataset d = parse("4,1,2\n1,3,4\n", first);
  EXPECT_EQ(d.labels(), (std::vector<int32_t>{4, 1}));
  EXPECT_EQ(d.num_classes, 5);
  EXPECT_FLOAT_EQ(d.raw(1, 1), 4.0f);

  CsvOptions named;
  named.header = true;
  named.label_column = "species";
  d = parse("length,species,width\n1.0,2,3.0\n4.0,0,6.0\n", named);
  EXPECT_EQ(d.labels(), (std::vector<int32_t>{2, 0}));
  EXPECT_FLOAT_EQ(d.raw(0, 1), 3.0f);
  EXPECT_FLOAT_EQ(d.raw(1, 0), 4.0f);

  CsvOptions header_default;
  header_default.header = true;
  EXPECT_EQ(parse("a,b,label\n1,2,1\n", header_default).labels(), std::vector<int32_t>{1});
}

TEST(Csv, BadCellsNameLineAndColumn) {
  auto message = error_of("1,2,0\n3,abc,1\n");
  EXPECT_NE(message.find("t.csv:2, column 2"), std::string::npos) << message;
  EXPECT_NE(message.find("'abc' is not a number"), std::string::npos) << message;

  message = error_of("1,2,0\n\n3,4,-1\n");
  EXPECT_NE(message.find("t.csv:3, column 3"), std::string::npos) << message;
  EXPECT_NE(message.find("non-negative integer"), std::string::npos) << message;

  message = error_of("1,2,1.5\n");
  EXPECT_NE(message.find("label '1.5'"), std::string::npos) << message;

  message = error_of("1,,0\n");
  EXPECT_NE(message.find("column 2"), std::string::npos) << message;

  message = error_of("1,nan,0\n");
  EXPECT_NE(message.find("not a finite number"), std::string::npos) << message;

  message = error_of("1,2,0\n1,2\n");
  EXPECT_NE(message.find("t.csv:2: has 2 columns, expected 3"), std::string::npos) << message;

  message = error_of("1,2,99999999\n");
  EXPECT_NE(message.find("too large"), std::string::npos) << message;
}

TEST(Csv, BadOptionsAndEmptyInput) {
  CsvOptions out_of_range;
  out_of_range.label_column = "3";
  EXPECT_NE(error_of("1,2,0\n", out_of_range).find("out of range"), std::string::npos);

  CsvOptions name_without_header;
  name_without_header.label_column = "label";
  EXPECT_NE(error_of("1,2,0\n", name_without_header).find("header"), std::string::npos);

  CsvOptions unknown_name;
  unknown_name.header = true;
  unknown_name.label_column = "kind";
  EXPECT_NE(error_of("a,b\n1,0\n", unknown_name).find("no column named 'kind'"),
            std::string::npos);

  EXPECT_NE(error_of("\n\n").find("no data rows"), std::string::npos);
  EXPECT_NE(error_of("1\n2\n").find("at least two columns"), std::string::npos);
}

TEST(Csv, ReadFileAndMissingFile) {
  testing::TempDir dir;
  std::ofstream(dir.file("d.csv")) << "0.5,1\n0.75,0\n";
  const Dataset d = read_csv(dir.file("d.csv"), {});
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.name, dir.file("d.csv"));
  try {
    read_csv(dir.file("missing.csv"), {});
    FAIL() << "missing file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("missing.csv")), std::string::npos);
  }
}

}  // namespace
}  // namespace shrink
