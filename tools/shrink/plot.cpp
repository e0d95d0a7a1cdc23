// shrink plot: a chart of sweep results (JSON lines) as self-contained SVG, with the Pareto front.
#include "command.hpp"

#include "shrink/core/error.hpp"
#include "shrink/jobs/sweep_results.hpp"
#include "shrink/report/results_plot.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>

namespace shrink::cli {
namespace {

struct PlotFlags {
  CommonOptions common;
  std::vector<std::string> inputs;
  ResultsPlot plot;
  bool no_pareto = false;
  std::string output;
};

void run(PlotFlags& flags) {
  apply_common_options(flags.common);
  require(std::filesystem::path(flags.output).extension() == ".svg", "-o " + flags.output + " must end in .svg");
  std::vector<nlohmann::json> lines;
  for (const std::string& input : flags.inputs) {
    require(std::filesystem::exists(input), "cannot plot " + input + ": no such file");
    for (nlohmann::json& line : read_results(input).lines) lines.push_back(std::move(line));
  }
  flags.plot.pareto = !flags.no_pareto;
  const Chart chart = results_chart(lines, flags.plot);
  write_chart(chart, flags.output);
  size_t points = 0;
  for (const ChartSeries& s : chart.series) points += s.x.size();
  std::printf("plotted %zu of %zu results (%zu series) into %s\n", points, lines.size(), chart.series.size(),
              flags.output.c_str());
}

}  // namespace

void register_plot(CLI::App& app) {
  auto flags = std::make_shared<PlotFlags>();
  CLI::App* cmd = app.add_subcommand("plot", "Chart sweep results (JSON lines) as SVG with the Pareto front");
  cmd->add_option("results", flags->inputs, "Results files of shrink sweep")->required();
  cmd->add_option("--x", flags->plot.x,
                  "Field on the x axis: a point option, a report field or dotted path; short names "
                  "accuracy, file_bytes, macs, loss, energy mean their values after compressing")
      ->capture_default_str();
  cmd->add_option("--y", flags->plot.y, "Field on the y axis (as --x)")->capture_default_str();
  cmd->add_option("--color", flags->plot.color, "One series per value of this field (e.g. seed)");
  cmd->add_flag("--log-x", flags->plot.log_x, "Logarithmic x axis");
  cmd->add_flag("--log-y", flags->plot.log_y, "Logarithmic y axis");
  cmd->add_flag("--line", flags->plot.line, "Join each series' points in order of x");
  cmd->add_flag("--no-pareto", flags->no_pareto, "Leave out the Pareto front (smaller x, larger y)");
  cmd->add_option("--title", flags->plot.title, "Chart title");
  cmd->add_option("-o,--output", flags->output, "SVG file to write")->required();
  add_common_options(*cmd, flags->common);
  // --threads and --seed would do nothing: nothing here is threaded or random.
  cmd->remove_option(cmd->get_option("--threads"));
  cmd->remove_option(cmd->get_option("--seed"));
  cmd->callback([flags] { run(*flags); });
}

}  // namespace shrink::cli
