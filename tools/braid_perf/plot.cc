// `braid-perf plot [-o out.svg|out.png] [--title T] [--no-log-y] [--y busbw|algbw|time]
//  FILE.json[:label] ...`: one line per result file, two for a point-to-point result timed with
//  --versus (the second backend dashed). Writes a gnuplot script (the data as inline data
// blocks) to a temporary directory, feeds it to gnuplot on stdin, which draws into that directory,
// moves the image to -o (ReplaceFile: a failed plot keeps an older image) and removes the
// directory.
#include "plot.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "interruption.h"
#include "plot_series.h"
#include "lib/cli_parse.h"
#include "lib/replace_file.h"
#include "subprocess.h"

namespace braid::perf {
namespace {

namespace fs = std::filesystem;

constexpr int kWidth = 900, kPanelHeight = 600, kTwoPanelHeight = 900;  // pixels
constexpr int kMaxSizeTics = 12;  // more labels than this crowd a 900-pixel axis
constexpr int kPointTypes[] = {7, 5, 9, 13, 11, 15};  // filled circle, square, triangles, diamond, pentagon
// Line colours that read well on white and apart from each other (gnuplot's own set has yellow).
constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct PlotRequest {
  std::string output = "braid-perf.svg";
  std::string title;  // "" = made from the inputs
  bool log_y = true;
  CollectiveMetric metric = CollectiveMetric::kBusBw;
  bool metric_given = false;  // --y was on the command line
  std::vector<std::string> inputs;  // FILE.json or FILE.json:label
};

// Whether -o names an SVG (else a PNG); throws PlotInputError for other extensions.
bool IsSvgOutput(const std::string& output) {
  std::string ext = fs::path(output).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext != ".svg" && ext != ".png")
    throw PlotInputError(fmt::format("-o {}: unknown extension '{}' (use .svg or .png)", output, ext));
  return ext == ".svg";
}

// The gnuplot `set terminal` line: svg, else pngcairo where this gnuplot has it, else png (libgd).
// How long gnuplot may take to draw (a few thousand points take well under a second), seconds;
// one that hangs is killed.
constexpr double kDrawLimitS = 120;

std::string TerminalLine(bool svg, const std::string& gnuplot, int height) {
  // noenhanced: labels are shown as written ('_' and '^' in file names are not sub/superscripts).
  if (svg)
    return fmt::format("set terminal svg size {},{} dynamic noenhanced font 'Sans,12' background rgb 'white'",
                       kWidth, height);
  std::string terminals;
  RunCapturing({gnuplot, "-e", "set terminal"}, "/dev/null", Capture::kBoth, &terminals, kHelperProbeLimitS);
  if (terminals.find("pngcairo") != std::string::npos)
    return fmt::format("set terminal pngcairo size {},{} noenhanced font 'Sans,11' background rgb 'white'",
                       kWidth, height);
  return fmt::format("set terminal png size {},{} noenhanced background rgb 'white'", kWidth, height);
}

// A gnuplot single-quoted string: '' stands for ', nothing else is special.
std::string Quote(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

// 2^exponent bytes as 1, 512, 1K, 64M, 1G.
std::string SizeLabel(int exponent) {
  constexpr const char* kSuffixes[] = {"", "K", "M", "G", "T", "P"};
  int unit = std::min(exponent / 10, 5);
  return fmt::format("{}{}", 1ULL << (exponent - 10 * unit), kSuffixes[unit]);
}

// The log2 size axis: a little room either side of the data, labelled powers of two, at most
// kMaxSizeTics of them: every 1st, 2nd, 5th or 10th power, so that 1K, 1M and 1G keep a label.
std::string SizeAxis(const std::vector<Series>& all) {
  double lo = INFINITY, hi = 0;
  for (const Series& s : all)
    for (const PlotPoint& p : s.points) lo = std::min(lo, p.bytes), hi = std::max(hi, p.bytes);
  const double pad = lo == hi ? 2.0 : std::pow(2.0, 0.3);
  lo /= pad, hi *= pad;
  int first = static_cast<int>(std::ceil(std::log2(lo))), last = static_cast<int>(std::floor(std::log2(hi)));
  int step = 1;
  for (int candidate : {1, 2, 5, 10})
    if ((step = candidate) * (kMaxSizeTics - 1) >= last - first) break;
  std::string tics;
  for (int e = (std::max(first, 0) + step - 1) / step * step; e <= last && e < 60; e += step)
    tics += fmt::format("{}{} {}", tics.empty() ? "" : ", ", Quote(SizeLabel(e)), std::ldexp(1.0, e));
  return fmt::format("set logscale x 2\nset xrange [{}:{}]\nset xtics ({})\nset xlabel 'message size (bytes)'\n",
                     lo, hi, tics);
}

std::string DataBlocks(const std::vector<Series>& all) {
  std::string text;
  for (size_t i = 0; i < all.size(); ++i) {
    text += fmt::format("$s{} << EOD\n", i);
    for (const PlotPoint& p : all[i].points) text += fmt::format("{:.17g} {:.6g}\n", p.bytes, p.value);
    text += "EOD\n";
  }
  return text;
}

std::string YLabel(SeriesKind kind, bool has_collective, CollectiveMetric metric) {
  if (kind == SeriesKind::kLatency)
    return has_collective ? "latency (us; collectives: time per call)" : "latency (us)";
  return has_collective ? fmt::format("bandwidth (GB/s; collectives: {})", CollectiveMetricName(metric))
                        : "bandwidth (GB/s)";
}

// A round step near `rough`: 1, 2 or 5 times a power of ten.
double RoundStep(double rough) {
  double power = std::pow(10.0, std::floor(std::log10(rough)));
  double mantissa = rough / power;
  return (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * power;
}

// A log y axis over [lo, hi] (> 0) and 5% of its span more either way, so no point sits on the
// frame. Over two decades or more gnuplot labels the powers of ten; over less it would label one
// or none, so the labels are 1-2-5 steps (one to two decades), finer round mantissas (under a
// decade: evenly spaced values would leave the axis's lower part unlabelled), or, on a range too
// narrow for three of those, evenly spaced round values.
std::string LogYAxis(double lo, double hi) {
  const double decades = std::log10(hi / lo);
  const double pad = std::pow(10.0, std::max(0.05 * decades, 0.02));
  lo /= pad, hi *= pad;
  std::string text = fmt::format("set logscale y 10\nset format y '%g'\nset yrange [{:.6g}:{:.6g}]\n", lo, hi);
  if (decades >= 2) return text + "set ytics autofreq\n";
  auto mantissa_tics = [lo, hi](std::initializer_list<double> mantissas) {
    std::vector<double> tics;
    for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= std::ceil(std::log10(hi)); ++e)
      for (double mantissa : mantissas) {
        const double v = mantissa * std::pow(10.0, e);
        if (v >= lo && v <= hi) tics.push_back(v);
      }
    return tics;
  };
  std::vector<double> tics = decades >= 1 ? mantissa_tics({1.0, 2.0, 5.0}) : mantissa_tics({1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0});
  if (tics.size() < 3) {
    tics.clear();
    const double step = RoundStep((hi - lo) / 5);
    for (double k = std::ceil(lo / step); k * step <= hi; ++k) tics.push_back(k * step);
  }
  std::string list;
  for (double v : tics)
    if (v >= lo && v <= hi) list += fmt::format("{}'{:g}' {:.10g}", list.empty() ? "" : ", ", v, v);
  return text + "set ytics (" + list + ")\n";
}

// One panel: its y axis and a plot command over the series of `kind` (each keeps its colour).
std::string Panel(const std::vector<Series>& all, SeriesKind kind, const PlotRequest& r) {
  std::string plots;
  bool has_collective = false;
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].kind != kind) continue;
    has_collective = has_collective || all[i].collective;
    for (const PlotPoint& p : all[i].points) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
    // A --versus series is dashed, so each pair timed in the same processes reads as one.
    plots += fmt::format("{}$s{} using 1:2 with linespoints linecolor rgb '{}' linewidth 2 dashtype {} pointtype {} "
                         "pointsize 0.8 title {}",
                         plots.empty() ? "plot " : ", \\\n     ", i, kColours[i % std::size(kColours)],
                         all[i].versus_of.empty() ? 1 : 2, kPointTypes[i % std::size(kPointTypes)],
                         Quote(all[i].label));
  }
  return fmt::format("set ylabel {}\n{}{}\n", Quote(YLabel(kind, has_collective, r.metric)),
                     r.log_y ? LogYAxis(lo, hi) : "unset logscale y\nset yrange [0:*]\nset ytics autofreq\n",
                     plots);
}

std::string DefaultTitle(const std::vector<Series>& all) {
  std::vector<std::string> names;
  std::set<std::string> hosts;
  for (const Series& s : all) {
    if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
    hosts.insert(s.host);
  }
  std::string title = "braid-perf " + fmt::format("{}", fmt::join(names, ", "));
  if (hosts.size() == 1 && !hosts.begin()->empty()) title += " on " + *hosts.begin();
  return title;
}

// Draws into `image`, a temporary file (see Plot).
std::string Script(const std::vector<Series>& all, const PlotRequest& r, const std::string& terminal,
                   const fs::path& image) {
  bool has[2] = {false, false};
  for (const Series& s : all) has[s.kind == SeriesKind::kLatency] = true;
  const std::string title = Quote(r.title.empty() ? DefaultTitle(all) : r.title);
  std::string text = terminal + "\nset output " + Quote(image.string()) + "\n" + DataBlocks(all) + SizeAxis(all);
  // Fixed side margins (characters) keep the two panels' x axes aligned; the legend sits below
  // the axes, where it cannot hide a line.
  text += "set lmargin 12\nset rmargin 4\nset grid xtics ytics back linetype 1 linecolor rgb '#e0e0e0' linewidth 1\n"
          "set key outside below center horizontal Left reverse\n";
  if (has[0] && has[1]) {
    text += fmt::format("set multiplot layout 2,1 title {}\n", title);
    text += Panel(all, SeriesKind::kBandwidth, r) + Panel(all, SeriesKind::kLatency, r) + "unset multiplot\n";
  } else {
    text += "set title " + title + "\n" + Panel(all, has[1] ? SeriesKind::kLatency : SeriesKind::kBandwidth, r);
  }
  return text;
}

// "FILE.json:label" -> file and label. An argument naming an existing file is taken whole (a
// name may hold ':'); otherwise it splits at the first ':' after an existing file's name, or
// else at the first ':'.
std::pair<std::string, std::string> SplitInput(const std::string& arg) {
  std::error_code ec;
  if (fs::exists(arg, ec)) return {arg, ""};
  size_t first = arg.find(':');
  for (size_t colon = first; colon != std::string::npos; colon = arg.find(':', colon + 1)) {
    if (!fs::exists(arg.substr(0, colon), ec)) continue;
    if (colon + 1 == arg.size()) throw PlotInputError(fmt::format("{}: empty label after ':'", arg));
    return {arg.substr(0, colon), arg.substr(colon + 1)};
  }
  if (first == std::string::npos) return {arg, ""};
  return {arg.substr(0, first), arg.substr(first + 1)};  // no such file: loading it says so
}

// Under a log y axis, drops values <= 0 (busbw is 0 on one rank) and says so.
void DropNonPositive(const std::string& path, Series* s) {
  auto nonpositive = std::remove_if(s->points.begin(), s->points.end(), [](const PlotPoint& p) { return p.value <= 0; });
  if (nonpositive != s->points.end())
    s->notes.push_back(fmt::format("{}: left out {} value(s) <= 0 (a log y axis cannot show them; --no-log-y can)",
                                   s->label, std::distance(nonpositive, s->points.end())));
  s->points.erase(nonpositive, s->points.end());
  if (s->points.empty())
    throw PlotInputError(fmt::format("{}: no value above 0 to show on a log y axis (try --no-log-y)", path));
}

// Loads every input (a --versus result gives two series); a label from the command line names
// the file's own series, and prefixes its --versus series.
std::vector<Series> LoadAll(const PlotRequest& r) {
  std::vector<Series> all;
  std::vector<std::string> paths;  // each series' file
  for (const std::string& input : r.inputs) {
    auto [path, label] = SplitInput(input);
    for (Series& s : LoadSeries(path, r.metric)) {
      if (!label.empty()) s.label = s.versus_of.empty() ? label : fmt::format("{}: {}", label, s.label);
      if (r.log_y) DropNonPositive(path, &s);
      for (const std::string& note : s.notes) std::fprintf(stderr, "braid-perf plot: %s: %s\n", path.c_str(), note.c_str());
      all.push_back(std::move(s));
      paths.push_back(path);
    }
  }
  // Two series with one legend entry (two runs of one suite and backend, no labels given) would
  // be told apart by colour alone: each such entry also names its file.
  std::map<std::string, int> uses;
  for (const Series& s : all) ++uses[s.label];
  for (size_t i = 0; i < all.size(); ++i) {
    if (uses[all[i].label] > 1) all[i].label += fmt::format(" ({})", fs::path(paths[i]).filename().string());
  }
  // Still one entry for several (the same file given twice, or two directories' files of one
  // name): they are numbered in the order given.
  uses.clear();
  for (const Series& s : all) ++uses[s.label];
  std::map<std::string, int> seen;
  for (Series& s : all) {
    if (uses[s.label] > 1) s.label += fmt::format(" #{}", ++seen[s.label]);
  }
  return all;
}

// Returns the exit code to leave with, or nullopt to go on.
std::optional<int> ParseRequest(int argc, char** argv, PlotRequest* r) {
  CLI::App app{"braid-perf plot: bandwidth and latency against message size from braid-perf --json "
               "results, drawn with gnuplot (no MPI needed)",
               "braid-perf plot"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("-o,--output", r->output, "Image to write: .svg or .png")->capture_default_str();
  app.add_option("--title", r->title, "Plot title (default: the suites and the host)");
  app.add_flag("--no-log-y", [r](int64_t) { r->log_y = false; }, "Linear y axis from 0 (default: log10)");
  std::string y = "busbw";
  CLI::Option* y_option =
      app.add_option("--y", y, "What collective results show: busbw, algbw (GB/s) or time (us per call)")
          ->check(CLI::IsMember({"busbw", "algbw", "time"}))
          ->capture_default_str();
  app.add_option("files", r->inputs, "braid-perf --json results; FILE.json:label sets the legend entry")
      ->required();
  // A bad command line is exit code 2, like the rest of braid-perf.
  if (std::optional<int> exit_code = tools::ParseCommandLine(app, argc, argv, "braid-perf plot", 2)) return exit_code;
  r->metric = y == "time" ? CollectiveMetric::kTime : y == "algbw" ? CollectiveMetric::kAlgBw : CollectiveMetric::kBusBw;
  r->metric_given = y_option->count() > 0;
  return std::nullopt;
}

// The image gnuplot drew, or "" if it drew none.
std::string ReadImage(const fs::path& image) {
  std::ifstream in(image, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int Plot(const PlotRequest& r) {
  const bool svg = IsSvgOutput(r.output);
  // Before anything is drawn, as --json and --csv are checked before a run.
  if (std::string error = tools::WritableError(r.output); !error.empty()) throw PlotInputError("-o: " + error);
  for (const std::string& input : r.inputs) {
    const std::string path = SplitInput(input).first;
    if (tools::SameFile(path, r.output))
      throw PlotInputError(fmt::format("-o {} is the input {}: the image would replace the results", r.output, path));
  }
  const std::string gnuplot = FindInPath("gnuplot");
  if (gnuplot.empty())
    throw PlotInputError("gnuplot is not installed (Debian/Ubuntu: apt-get install gnuplot-nox)");
  std::vector<Series> all = LoadAll(r);
  // A flag that would do nothing is refused, as braid-perf's run options are.
  if (r.metric_given && std::none_of(all.begin(), all.end(), [](const Series& s) { return s.collective; }))
    throw PlotInputError("--y chooses what collective results show, and these files hold point-to-point results only");
  const bool two_panels = std::any_of(all.begin(), all.end(), [&](const Series& s) { return s.kind != all[0].kind; });
  ScratchDir tmp("braid-perf-plot");  // the script and the image; gone on every way out
  const std::string terminal = TerminalLine(svg, gnuplot, two_panels ? kTwoPanelHeight : kPanelHeight);
  const fs::path script = tmp / "plot.gp", image = tmp / "image";
  std::ofstream(script) << Script(all, r, terminal, image);
  std::string messages;
  // The script on stdin: gnuplot's messages then say "line N" without naming a file that is gone.
  // Its messages only: its stdout carries an image when it cannot open the output.
  int status = RunCapturing({gnuplot}, script.string(), Capture::kStderr, &messages, kDrawLimitS);
  const std::string drawn = ReadImage(image);
  if (status != 0 || drawn.empty()) {
    const std::string what = status != 0 ? "gnuplot failed (" + DescribeRunStatus(status) + ")"
                                         : std::string("gnuplot drew no image (exit status 0)");
    std::fprintf(stderr, "braid-perf plot: %s writing %s:\n%s", what.c_str(), r.output.c_str(), messages.c_str());
    return 1;
  }
  if (std::string error = tools::ReplaceFile(r.output, drawn); !error.empty()) {
    std::fprintf(stderr, "braid-perf plot: -o: %s\n", error.c_str());
    return 1;
  }
  if (!messages.empty()) std::fprintf(stderr, "braid-perf plot: gnuplot warned:\n%s", messages.c_str());
  std::printf("braid-perf plot: wrote %s (%zu series%s)\n", r.output.c_str(), all.size(),
              two_panels ? ", bandwidth and latency panels" : "");
  return 0;
}

}  // namespace

int PlotMain(int argc, char** argv) {
  PlotRequest request;
  if (std::optional<int> code = ParseRequest(argc, argv, &request)) return *code;
  try {
    return Plot(request);
  } catch (const PlotInputError& e) {
    std::fprintf(stderr, "braid-perf plot: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid-perf plot: %s\n", e.what());
    return 1;
  }
}

}  // namespace braid::perf
