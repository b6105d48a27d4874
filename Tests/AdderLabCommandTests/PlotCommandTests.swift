import Foundation
import Testing
import AdderTestSupport
import AdderTrain

@Suite("adderlab plot", .timeLimit(.minutes(3)))
struct PlotCommandTests {
    static var results: String { Adderlab.experiments + "/results" }

    @Test func groupedFigureOfTheGradientAblation() throws {
        let out = tempDir() + "/f.svg"
        let r = try Adderlab.run(["plot", Self.results, "--group", "--out", out])
        #expect(r.status == 0, "\(r.err)")
        let size = try fileSize(out)
        #expect(r.out == "wrote \(out) (7 series, \(size) bytes)\n")
        #expect(r.err == "")
        let svg = try String(contentsOfFile: out, encoding: .utf8)
        #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n") && size < 200_000)
        #expect(svg.components(separatedBy: "<g class=\"series\"").count - 1 == 7)
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent) == ["f.svg"])
    }

    @Test func oneSeriesPerRunAndEveryMetric() throws {
        let dir = tempDir()
        for metric in ["test-accuracy", "training-loss", "learning-rate"] {
            for x in ["step", "epoch", "time"] {
                let out = dir + "/\(metric)-\(x).svg"
                let r = try Adderlab.run(["plot", Self.results, "--metric", metric, "--x", x, "--title", "t", "--out", out])
                #expect(r.status == 0 && r.out.hasPrefix("wrote \(out) (21 series, "), "\(r.out)\(r.err)")
            }
        }
    }

    @Test func badArgumentsAreNamed() throws {
        let dir = tempDir()
        let metric = try Adderlab.run(["plot", Self.results, "--metric", "accuracy", "--out", dir + "/f.svg"])
        #expect(metric.status == 64)
        #expect(metric.err.contains("'accuracy'") && metric.err.contains("--metric") && metric.err.contains("test-accuracy"), "\(metric.err)")
        let png = try Adderlab.run(["plot", Self.results, "--out", "x.png"])
        #expect(png.status == 64)
        #expect(png.err.hasPrefix("Error: --out must name an .svg file, got 'x.png'\n"), "\(png.err)")
        let x = try Adderlab.run(["plot", Self.results, "--x", "wallclock", "--out", dir + "/f.svg"])
        #expect(x.status == 64 && x.err.contains("'wallclock'"))
        let missing = try Adderlab.run(["plot", Self.results, "--out", dir + "/no/such/f.svg"])
        #expect(missing.status == 1 && missing.err == "error: --out \(dir)/no/such/f.svg: the directory \(dir)/no/such does not exist\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    /// The figure never goes into a run directory.
    @Test func refusesToWriteIntoARunDirectory() throws {
        let run = RunReader.runDirectories(in: Self.results)[0]
        let before = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
        let r = try Adderlab.run(["plot", Self.results, "--out", run + "/f.svg"])
        #expect(r.status == 1 && r.err == "error: --out \(run)/f.svg is inside the run directory \(run); write the figure elsewhere\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: run).sorted() == before)
    }

    /// Unreadable runs are named and skipped; with none readable, the command fails.
    @Test func unreadableRunsAreSkippedOrFail() throws {
        let runs = tempDir()
        try FileManager.default.createDirectory(atPath: runs + "/broken", withIntermediateDirectories: true)
        try "name: broken\nepochs: [1\n".write(toFile: runs + "/broken/config.yaml", atomically: true, encoding: .utf8)
        let out = tempDir() + "/f.svg"
        let none = try Adderlab.run(["plot", runs, "--out", out])
        #expect(none.status == 1)
        #expect(none.err.hasPrefix("warning: skipped \(runs)/broken: ") && none.err.hasSuffix("error: none of the 1 run directories could be read\n"), "\(none.err)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let some = try Adderlab.run(["plot", runs + "/broken", RunReader.runDirectories(in: Self.results)[0], "--out", out])
        let written = try fileSize(out)
        #expect(some.status == 0 && some.out == "wrote \(out) (1 series, \(written) bytes)\n", "\(some.err)")
        #expect(some.err.hasPrefix("warning: skipped \(runs)/broken: "))
    }
}

private func fileSize(_ path: String) throws -> Int {
    try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
}
