import Foundation
import Testing
import AdderTestSupport
import AdderTrain

/// `adderlab plot RUN --features`: a scatter of one evaluation's 2-D features.
@Suite("adderlab plot --features", .timeLimit(.minutes(3)))
struct FeaturePlotTests {
    static let first = FeatureRecord(step: 100, epoch: 0.5, x: [-1, 1, 0, 0.5, -0.5], y: [-1, 1, 0.25, 0, 0], labels: [0, 9, 0, 3, 9])
    static let second = FeatureRecord(step: 200, epoch: 1, x: [0, 2, 4], y: [0, 1, -1], labels: [1, 1, 2])

    /// A run directory of a Fashion-MNIST run with two feature records and a bad line between.
    func handMadeRun(features: Bool = true) throws -> String {
        let dir = tempDir() + "/run"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var config = ExperimentConfig(name: "feat")
        config.dataset = .fashionMNIST
        config.featureDimensions = features ? 2 : 0
        try config.tree.yaml().write(toFile: RunFiles(dir).config, atomically: true, encoding: .utf8)
        if features {
            let text = Self.first.jsonLine + "\n" + #"{"step":150,"epoch":0.7,"x":[1],"y":[1],"label":[10.5]}"# + "\n" + Self.second.jsonLine + "\n"
            try text.write(toFile: RunFiles(dir).features, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func lastEvaluationByDefaultOneGroupOfCirclesPerClass() throws {
        let run = try handMadeRun()
        let out = tempDir() + "/f.svg"
        let r = try Adderlab.run(["plot", run, "--features", "--out", out])
        let size = try #require(try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int)
        #expect(r.status == 0)
        #expect(r.out == "wrote \(out) (3 points of 10 classes at step 200, \(size) bytes)\n")
        #expect(r.err == "warning: \(run)/features.jsonl:2: label[0] is not a whole number from 0 to 999; line skipped\n")
        let svg = try String(contentsOfFile: out, encoding: .utf8)
        let c = try #require(SVGContents.parse(svg))
        #expect(c.root == "svg")
        #expect(c.series == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])
        #expect(c.seriesCircles == [0, 2, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(c.circles == 3)
        // (0, 0) at the middle of the left edge, (2, 1) and (4, −1): the square is 560 pixels.
        #expect(svg.components(separatedBy: "\n").filter { $0.hasPrefix("<g class=\"series\"") && $0.contains("<circle") } == [
            ##"<g class="series" data-name="Trouser" data-label="1" fill="#f28e2b" fill-opacity="0.55"><circle cx="60" cy="320" r="1.8"/><circle cx="340" cy="180" r="1.8"/></g>"##,
            ##"<g class="series" data-name="Pullover" data-label="2" fill="#e15759" fill-opacity="0.55"><circle cx="620" cy="460" r="1.8"/></g>"##,
        ])
        // The title (twice: <title> and the heading), the x ticks 0…4 and the y ticks −2…2
        // (one span of 4 on both axes), the axis names, the legend with the counts.
        #expect(c.text.replacingOccurrences(of: "\n", with: "") == "feat: features at step 200 (epoch 1)feat: features at step 200 (epoch 1)"
            + "01234" + "-2-1012" + "feature 1feature 2"
            + "T-shirt/top (0)Trouser (2)Pullover (1)Dress (0)Coat (0)Sandal (0)Shirt (0)Sneaker (0)Bag (0)Ankle boot (0)")
    }

    @Test func stepPicksAnEvaluation() throws {
        let run = try handMadeRun()
        let out = tempDir() + "/f.svg"
        let r = try Adderlab.run(["plot", run, "--features", "--step", "100", "--title", "CNN <1>", "--out", out])
        #expect(r.status == 0 && r.out.hasPrefix("wrote \(out) (5 points of 10 classes at step 100, "), "\(r.err)")
        let c = try #require(SVGContents.parse(try String(contentsOfFile: out, encoding: .utf8)))
        #expect(c.seriesCircles == [2, 0, 0, 1, 0, 0, 0, 0, 0, 2])
        #expect(c.text.replacingOccurrences(of: "\n", with: "").hasPrefix("CNN <1>CNN <1>-1.0-0.50.00.51.0-1.0-0.50.00.51.0feature 1"))
        let missing = try Adderlab.run(["plot", run, "--features", "--step", "150", "--out", out])
        #expect(missing.status == 1)
        #expect(missing.err.hasSuffix("error: \(run) has no features at step 150; it has them at steps 100, 200\n"), "\(missing.err)")
    }

    @Test func refusals() throws {
        let plain = try handMadeRun(features: false)
        let out = tempDir() + "/f.svg"
        let none = try Adderlab.run(["plot", plain, "--features", "--out", out])
        #expect(none.status == 1)
        #expect(none.err == "error: \(plain) has no feature records: its model has no feature layer (featureDimensions: 2 adds one)\n")
        let run = try handMadeRun()
        let inside = try Adderlab.run(["plot", run, "--features", "--out", run + "/f.svg"])
        #expect(inside.status == 1 && inside.err == "error: --out \(run)/f.svg is inside the run directory \(run); write the figure elsewhere\n")
        let two = try Adderlab.run(["plot", run, plain, "--features", "--out", out])
        #expect(two.status == 64 && two.err.hasPrefix("Error: --features draws one run: give one run directory\n"), "\(two.err)")
        let stepAlone = try Adderlab.run(["plot", run, "--step", "3", "--out", out])
        #expect(stepAlone.status == 64 && stepAlone.err.hasPrefix("Error: --step goes with --features\n"), "\(stepAlone.err)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
