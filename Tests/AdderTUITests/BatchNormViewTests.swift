import AdderTestSupport
import AdderTrain
import AdderTUI
import Foundation
import Testing

/// The paper's views on the batch-norm collapse of the sign rule, on the six runs of
/// experiments/bn-collapse.yaml kept in experiments/bn-collapse-results.
@Suite("Batch norm and energy views")
struct BatchNormViewTests {
    func dashboard() -> Dashboard { readDashboard(keptRuns("bn-collapse-results")) }

    func rows(_ d: Dashboard, _ width: Int, _ height: Int) -> [String] { screenRows(d, width, height) }

    /// B draws the accuracy with batch statistics beside the running one: for the sign
    /// group the running curve falls to chance mid-training while the batch one climbs.
    @Test func accuracyWithBatchStatistics() {
        let d = dashboard()
        #expect(d.state.rows.count == 3)
        d.handle(.down); d.handle(.down)      // the sign group
        d.handle(.char("B"))
        #expect(d.state.message == "test accuracy with batch statistics drawn too (its own glyph); where it parts from the running one, batch norm lags: B hides it")
        let screen = rows(d, 100, 30)
        #expect(Array(screen[7...18]) == ["┌────────────────────────────────────────────────┐┌────────────────────────────────────────────────┐",
                "│loss  ●sign                                     ││test acc  ●sign ○sign batch                     │",
                "│       │⡄                                       ││  100% ┤                                        │",
                "│   1.5 ┤⡇                                       ││       │    ⣀⣀⠤⠤⠤⠤⠤⠤○⠤⠤⠤⠤⠤⠤○⠤⠔⠒⠒⠒⠒⠒○⠒⠒⠒⠒⠒⠒⠒○⠒⠒⠓⠓│",
                "│       │⢇                                       ││       │      ⢀⢀⢔⢄⢄⢀                      ⡰⠁    │",
                "│   1.0 ┤⢸                                       ││   50% ┤    ⢀⢔⢕⢕⢕⢕⢕⢕⢕⠄         ⢐⠄        ⢴⠁     │",
                "│       │⠘⣇⡄                                     ││       │    ⢗⢗⢝⢝●⢷⢕⣕⢕⢕⢄       ⢐●⢷⢄      ⢴⠇      │",
                "│       │ ⠙⢧⣴⣄⢀⣔⡄ ⢀    ⡀                         ││       │    ⠑⠑⢕⢕⢕⢕⢕⢝⢕⢵⣕⢅     ⣴⠗⠁⠑⢕⢕ ⢀⢀⢔●⠇       │",
                "│   0.5 ┤   ⠑●⠙⠙⠙⠿⠚⠙⠔⢦●⠝⠖⢷⢷⢷⣤⢷⢵●⢦⣴⣤⡀⣰⣧⢄●⣀⣄⣀⢀⣐⣄⣀⣄ ││       │        ⠑⠑⢕⢕⢕⢕⢝⢗●⣕⣄ ⡔⠁    ⠙⢷⢕⢟⠝⠑        │",
                "│       │                   ⠁      ⠈⠁  ⠁⠁⠁⠙⠙⠑⠝⠉⠘⠑││    0% ┤            ⠁⠁⠁⠁⠁⠁⠁⠉        ⠁           │",
                "│       └10────────────────step──────────────4685││       └10────────────────step──────────────4685│",
                "└────────────────────────────────────────────────┘└────────────────────────────────────────────────┘"])
        d.handle(.char("B"))
        #expect(!d.state.batchStatisticsCurves && d.state.message == "test accuracy with running statistics only")
    }

    /// The per-layer gap between running and batch statistics, mean and variance, over
    /// training (the layer view's BN quantities).
    @Test func batchNormGapsPerLayer() {
        let d = dashboard()
        d.handle(.down); d.handle(.down)
        d.handle(.char("L"))
        for _ in 0..<5 { d.handle(.char("v")) }
        #expect(d.state.message == "layer view: BN running-vs-batch |ln variance ratio|")
        let screen = rows(d, 100, 30)
        #expect(Array(screen[7...12]) == ["┌─ Layers over training · v quantity · m one layer across runs · L closes ─────────────────────────┐",
                "│BN running-vs-batch |ln variance ratio| per layer of bn-collapse-sign-s1  ●bn1 ○bn2 ◆bn3 ◇bn4     │",
                "│       │⡀                                                                                         │",
                "│       │⠘⡄                                                                                        │",
                "│       │ ⠘⡄                                    ⡠⠢⡀                                                │",
                "│  0.20 ┤  ⠈⢆                                ⢀⠔⠊  ⠈⠢⡀                                              │"])
    }

    /// Under LANG=C the summary's group labels are spelled in ASCII before their column is
    /// sized ("full·precision" was one column wider than its cell, shifting the row).
    @Test func asciiSummaryStaysAligned() {
        let d = readDashboard(keptRuns("bn-collapse-results"), unicode: false)
        d.handle(.char("T"))
        #expect(Array(screenRows(d, 80, 24)[7...11]) == ["+- Summary of 3 groups | b sets the baseline | o sorts | T closes -------------+",
                "|group             filter        input    recalibrate  runs   final test acc  Δ|",
                "|full|precision    fullPrecision hardTanh 0             2/2   90.57 +- 0.24%   |",
                "|sign|recalibrated sign          sign     20            2/2   85.54 +- 0.21%   |",
                "|sign              sign          sign     0             2/2   85.45 +- 0.20%   |"])
    }

    /// The focused run's energy line: per image inferred and trained, and so far; the
    /// summary table's µJ/img and J/run columns.
    @Test func energyOfTheFocusedRunAndInTheSummary() {
        let d = dashboard()
        let screen = rows(d, 160, 50)
        #expect(screen.filter { $0.hasPrefix("│energy: ") } == ["│energy: 1.11 µJ/image inferred (128.5K mult, 704.5K add), 5.46 µJ/image trained, 1.64 J so far                                                                │"])
        d.handle(.char("T"))
        let summary = rows(d, 160, 50)
        #expect(Array(summary[7...10]) == ["┌─ Summary of 3 groups · b sets the baseline · o sorts · T closes ─────────────────────────────────────────────────────────────────────────────────────────────┐",
                "│group             filter        input    recalibrate  runs   final test acc  Δ final    best test acc       final loss time/run  img/s  µJ/img   J/run        │",
                "│full·precision    fullPrecision hardTanh 0             2/2    90.57 ± 0.24%        -    90.57 ± 0.24%  0.1903 ± 0.0220    143 s   3313    1.11    1.64        │",
                "│sign·recalibrated sign          sign     20            2/2    85.54 ± 0.21%        -    85.54 ± 0.21%  0.3456 ± 0.0925    193 s   2556    1.11    1.64        │"])
    }
}
