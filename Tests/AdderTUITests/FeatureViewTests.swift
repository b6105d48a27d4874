import AdderTestSupport
import AdderTrain
import AdderTUI
import Foundation
import Testing

/// The feature view (F) on the two runs of experiments/fashion-features.yaml kept (thinned:
/// three evaluations of features, at steps 250, 1750 and 3748) in experiments/features-results.
@Suite("Feature view")
struct FeatureViewTests {
    static var results: String { keptRuns("features-results") }

    func dashboard(_ dir: String = FeatureViewTests.results, unicode: Bool = true) -> Dashboard {
        readDashboard(dir, unicode: unicode)
    }

    func rows(_ d: Dashboard, _ width: Int, _ height: Int) -> [String] { screenRows(d, width, height) }

    /// C then F: the AdderNet's classes gather around centres, the CNN's spread along rays
    /// from the origin (the paper's Fig. 1); the class digits sit at the class centroids.
    @Test func cnnAndAdderNetSideBySideAt80x24() {
        let d = dashboard()
        d.handle(.char("C"))
        d.handle(.char("F"))
        #expect(d.state.message == "feature space: ← → step through the evaluations (the latest is followed); C: two side by side")
        #expect(Array(rows(d, 80, 24)[6...23]) == ["┌─ Feature space · ← → evaluation · F closes ──────────────────────────────────┐",
                "│ adder · step 3748 · acc 88.3% · 3/3    cnn · step 3748 · acc 89.2% · 3/3     │",
                "│           ⣷⣾⢆ ⣰⣀⣄⡀                                 ⢰⣅                        │",
                "│           ⢼7⣿⠭⣛9⣿⣿⡆                     20┤        ⢚7⣂  ⢀⣤                   │",
                "│  10┤      ⠈⡿⣯⠭⠿⡟⡛⠃⠁                                ⢰⣽⣷⣧⣴9⠃                   │",
                "│            ⢀⣸⢄                                  ⠲⣤5⣄⣬⡟⠳⡟⠃⢀⣀⣀                 │",
                "│            ⠠5⡧     ⡀                              ⠈⠙⠛⠒⢆⡴⠾8⠋                  │",
                "│         ⠐⢲⣤⡀⠁⢣⣲⢮⠷1⠿⠛⠁⠁                   0┤        ⠺⣿460⠒⠂                   │",
                "│   0┤     ⢘06⣿3⠏⢰                                   ⠉⠙⠉⣛3⣧                    │",
                "│        ⢀⣰2⣿⣿4⡏⠖⡹⡀ ⢎⣄⢀⢀                               ⣢⠤⠑⠙⠁                   │",
                "│        ⠘⠿⣿⣿⣿⡿ ⠈⠨⡿⣮8⣾⣿⣤⠄                -20┤         ⢀1⡂                      │",
                "│ -10┤     ⠁ ⠌     ⠯⣽⣿⢿⢲⠄                             ⣸⡏                       │",
                "│                   ⠈⢘⡑⢡⠄                             ⡛                        │",
                "│      -10     0     10                         -20     0    20                │",
                "│ 0 T-shirt/top  1 Trouser  2 Pullover  3 Dress  4 Coat  5 Sandal  6 Shirt     │",
                "│ 7 Sneaker  8 Bag  9 Ankle boot                                               │",
                "└──────────────────────────────────────────────────────────────────────────────┘",
                " feature space: ← → step through the evaluations (the latest is followed); C: t…"])
    }

    @Test func at160x50TheTitlesSayEverything() {
        let d = dashboard()
        d.handle(.char("C"))
        d.handle(.char("F"))
        let screen = rows(d, 160, 50)
        #expect(Array(screen[6...9]) == ["┌─ Feature space · ← → evaluation · F closes ──────────────────────────────────────────────────────────────────────────────────────────────────────────────────┐",
                "│ fashion-features-adder · step 3748 · epoch 4.00 · acc 88.3% · 3/3              fashion-features-cnn · step 3748 · epoch 4.00 · acc 89.2% · 3/3               │",
                "│                         ⠈ ⡀  ⠈         ⠄                                                                       ⢀⠈                                            │",
                "│                        ⠐ ⢂⢇ ⢉⠤⠁       ⠠                                                                        ⢀⣠⠠                                           │"])
        #expect(Array(screen[44...48]) == ["│           -10         -5          0          5         10          15                 -30        -20        -10         0         10         20         30   │",
                "│                                                                                                                                                              │",
                "│                                                                                                                                                              │",
                "│ 0 T-shirt/top  1 Trouser  2 Pullover  3 Dress  4 Coat  5 Sandal  6 Shirt  7 Sneaker  8 Bag  9 Ankle boot                                                     │",
                "└──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘"])
    }

    /// ← → step through the evaluations, both runs at the same step; → at the last follows
    /// the latest again.
    @Test func arrowsStepThroughEvaluations() {
        let d = dashboard()
        d.handle(.char("C"))
        d.handle(.char("F"))
        d.handle(.left)
        #expect(d.state.message == "evaluation 2 of 3, step 1750")
        #expect(d.state.featureView == FeatureViewSettings(step: 1750))
        #expect(Array(rows(d, 80, 24)[6...9]) == ["┌─ Feature space · ← → evaluation · F closes ──────────────────────────────────┐",
                "│ adder · step 1750 · acc 85.3% · 2/3    cnn · step 1750 · acc 86.6% · 2/3     │",
                "│           ⢀⣦⣭⠄⢡⣄⡤⣠⣀                     20┤        ⢺⡀                        │",
                "│           ⠈7⡿⠽⢻9⡿⢷⠥                               ⠈⢸7⣆⡀⢀⣤⡖                   │"])
        d.handle(.left); d.handle(.left)
        #expect(d.state.message == "evaluation 1 of 3, step 250")
        d.handle(.right); d.handle(.right)
        #expect(d.state.message == "evaluation 3 of 3, step 3748 (the latest, followed)")
        #expect(d.state.featureView == FeatureViewSettings(step: nil))
        d.handle(.escape)
        #expect(d.state.featureView == nil)
    }

    /// LANG=C: each cell shows the digit of the class with most points in it.
    @Test func asciiFallback() {
        let d = dashboard(unicode: false)
        d.handle(.char("F"))
        #expect(Array(rows(d, 80, 24)[6...22]) == ["+- Feature space | <- -> evaluation | F closes --------------------------------+",
                "| fashion-features-adder | step 3748 | epoch 4.00 | acc 88.3% | 3/3            |",
                "|           777 9999                                                           |",
                "|           777999999                                                          |",
                "|  10+      777999999                                                          |",
                "|            555                                                               |",
                "|            555     1                                                         |",
                "|         00005111111111                                                       |",
                "|   0+     2063338                                                             |",
                "|        2222644888 8888                                                       |",
                "|        222244 868888888                                                      |",
                "| -10+     2 4     888888                                                      |",
                "|                   88888                                                      |",
                "|      -10     0     10                                                        |",
                "| 0 T-shirt/top  1 Trouser  2 Pullover  3 Dress  4 Coat  5 Sandal  6 Shirt     |",
                "| 7 Sneaker  8 Bag  9 Ankle boot                                               |",
                "+------------------------------------------------------------------------------+"])
    }

    @Test func aRunWithoutFeaturesSaysSo() {
        let d = dashboard(keptRuns("bn-collapse-results"))
        d.handle(.char("F"))
        #expect(Array(rows(d, 80, 24)[6...11]) == ["└──────────────────────────────────────────────────────────────────────────────┘",
                "┌─ Feature space · ← → evaluation · F closes ──────────────────────────────────┐",
                "│ full·precision: no feature layer.                                            │",
                "│ Runs with featureDimensions: 2 record                                        │",
                "│ their features (fashion-features.yaml).                                      │",
                "│                                                                              │"])
    }

    /// A corrupt features.jsonl: its line is named and skipped, nothing crashes.
    @Test func aCorruptFeaturesFileIsNamed() throws {
        let dir = temporaryDirectory("features")
        let src = FeatureViewTests.results + "/fashion-features-adder-20261129-212451"
        try FileManager.default.createDirectory(atPath: dir + "/bad", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: src + "/config.yaml", toPath: dir + "/bad/config.yaml")
        try FileManager.default.copyItem(atPath: src + "/metrics.jsonl", toPath: dir + "/bad/metrics.jsonl")
        try "{\"step\":250,\"epoch\":0.27,\"x\":[1e99],\"y\":[0],\"label\":[1]}\n".write(toFile: dir + "/bad/features.jsonl", atomically: true, encoding: .utf8)
        let d = dashboard(dir)
        d.handle(.char("F"))
        #expect(Array(rows(d, 80, 24)[6...10]) == ["│ fashion-features-adder: no feature record could be read:                     │",
                "│ features.jsonl:1: x[0] is not a number within ±1e+30; line skipped           │",
                "│                                                                              │",
                "│                                                                              │",
                "│                                                                              │"])
    }
}
