import AdderData
import Foundation

/// What the feature-space pictures (the dashboard's F view, `adderlab plot --features`)
/// share: the class names, one colour per class, and the square range both axes take, so
/// that an L1 ball looks like a diamond and an angle like an angle.
public struct FeatureScatter: Sendable {
    public let record: FeatureRecord
    public let classNames: [String]

    /// Ten colours told apart on white (Tableau 10), one per class; more classes reuse them.
    public static let svgColors = Array(SeriesColors.svg.prefix(10))

    public init(record: FeatureRecord, dataset: DatasetName) {
        self.record = record
        let top = record.labels.max() ?? -1
        classNames = (0...max(top, FeatureScatter.classCount(dataset) - 1)).map { FeatureScatter.className($0, dataset: dataset) }
    }

    static func classCount(_ dataset: DatasetName) -> Int { dataset == .cifar100 ? 100 : 10 }

    /// The name of class `label` in `dataset` ("Sandal", "7", "cat", "class 42").
    public static func className(_ label: Int, dataset: DatasetName) -> String {
        switch dataset {
        case .fashionMNIST where label < Datasets.fashionClasses.count: return Datasets.fashionClasses[label]
        case .cifar10 where label < CIFAR.cifar10Classes.count: return CIFAR.cifar10Classes[label]
        case .mnist where label < 10: return String(label)
        default: return "class \(label)"
        }
    }

    /// Points per class, by label.
    public var counts: [Int] {
        var c = [Int](repeating: 0, count: classNames.count)
        for l in record.labels where l < c.count { c[l] += 1 }
        return c
    }

    /// The mean point of each class (nil for a class with no points).
    public var centroids: [(x: Double, y: Double)?] {
        var sx = [Double](repeating: 0, count: classNames.count), sy = sx, n = [Int](repeating: 0, count: classNames.count)
        for (i, l) in record.labels.enumerated() where l < n.count {
            sx[l] += Double(record.x[i]); sy[l] += Double(record.y[i]); n[l] += 1
        }
        return (0..<n.count).map { n[$0] > 0 ? (sx[$0] / Double(n[$0]), sy[$0] / Double(n[$0])) : nil }
    }

    /// A square window holding every point, centred on their range: (x centre, y centre,
    /// half the side), the side at least 1e-6; nil without points.
    public var window: (cx: Double, cy: Double, half: Double)? {
        guard let x0 = record.x.min(), let x1 = record.x.max(), let y0 = record.y.min(), let y1 = record.y.max() else { return nil }
        let half = max(Double(x1) - Double(x0), Double(y1) - Double(y0), 2e-6) / 2
        return ((Double(x0) + Double(x1)) / 2, (Double(y0) + Double(y1)) / 2, half)
    }

    /// The figure as a standalone SVG document: a square plot, one group of circles per
    /// class (colour by class, the class name in the legend with its count).
    public func svg(title: String, size: Int = 560) -> String {
        let side = Double(max(size, 240))
        let names = classNames.map { SVGPlot.shorten(SVGPlot.clean($0), to: 24) }
        let counts = self.counts
        let legend = zip(names, counts).map { "\($0) (\($1))" }
        let legendWidth = 34 + SVGPlot.charWidth * Double(legend.map(\.count).max() ?? 0)
        let titleText = SVGPlot.shorten(SVGPlot.clean(title), to: Int((side + legendWidth) / 7.6))
        // Both axes span the same length, so shapes keep their proportions.
        let axes = window.map { win in
            (x: ChartAxis.linear(win.cx - win.half, win.cx + win.half, target: 6), y: ChartAxis.linear(win.cy - win.half, win.cy + win.half, target: 6))
        }
        let top = 40.0, bottom = 46.0
        let left = max(60, 30 + SVGPlot.charWidth * Double(axes?.y.ticks.map(\.label.count).max() ?? 0) + 8)
        let w = left + side + 16 + legendWidth + 12, h = top + side + bottom

        var svg = SVGPlot.documentStart(width: w, height: h, title: titleText, untitled: "features")
            + "<text x=\"\(SVGPlot.number(w / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(SVGPlot.escape(titleText))</text>\n"
        guard let axes else {
            svg += "<rect class=\"frame\" x=\"\(SVGPlot.number(left))\" y=\"\(SVGPlot.number(top))\" width=\"\(SVGPlot.number(side))\" height=\"\(SVGPlot.number(side))\" fill=\"none\" stroke=\"#333333\"/>\n"
            svg += "<text class=\"no-data\" x=\"\(SVGPlot.number(left + side / 2))\" y=\"\(SVGPlot.number(top + side / 2))\" text-anchor=\"middle\" font-size=\"14\" fill=\"#666666\">no points</text>\n"
            return svg + "</svg>\n"
        }
        let xAxis = axes.x, yAxis = axes.y
        let span = max(xAxis.hi - xAxis.lo, yAxis.hi - yAxis.lo)
        let x0 = (xAxis.lo + xAxis.hi - span) / 2, y0 = (yAxis.lo + yAxis.hi - span) / 2
        let px = { (x: Double) -> Double in left + (x - x0) / span * side }
        let py = { (y: Double) -> Double in top + side - (y - y0) / span * side }

        svg += "<g class=\"axes\" stroke=\"#333333\">\n"
        for t in xAxis.ticks where t.value >= x0 && t.value <= x0 + span {
            let x = SVGPlot.number(px(t.value))
            svg += "<line x1=\"\(x)\" y1=\"\(SVGPlot.number(top))\" x2=\"\(x)\" y2=\"\(SVGPlot.number(top + side))\" stroke=\"#e6e6e6\"/>"
            svg += "<text x=\"\(x)\" y=\"\(SVGPlot.number(top + side + 18))\" text-anchor=\"middle\" stroke=\"none\">\(t.label)</text>\n"
        }
        for t in yAxis.ticks where t.value >= y0 && t.value <= y0 + span {
            let y = SVGPlot.number(py(t.value))
            svg += "<line x1=\"\(SVGPlot.number(left))\" y1=\"\(y)\" x2=\"\(SVGPlot.number(left + side))\" y2=\"\(y)\" stroke=\"#e6e6e6\"/>"
            svg += "<text x=\"\(SVGPlot.number(left - 8))\" y=\"\(SVGPlot.number(py(t.value) + 4))\" text-anchor=\"end\" stroke=\"none\">\(t.label)</text>\n"
        }
        svg += "</g>\n"
        svg += "<rect class=\"frame\" x=\"\(SVGPlot.number(left))\" y=\"\(SVGPlot.number(top))\" width=\"\(SVGPlot.number(side))\" height=\"\(SVGPlot.number(side))\" fill=\"none\" stroke=\"#333333\"/>\n"
        svg += "<text class=\"x-label\" x=\"\(SVGPlot.number(left + side / 2))\" y=\"\(SVGPlot.number(h - 10))\" text-anchor=\"middle\" font-size=\"12\">feature 1</text>\n"
        let ly = SVGPlot.number(top + side / 2)
        svg += "<text class=\"y-label\" x=\"14\" y=\"\(ly)\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 \(ly))\">feature 2</text>\n"

        // One group per class, its points as circles in file order.
        var byClass = [[Int]](repeating: [], count: classNames.count)
        for (i, l) in record.labels.enumerated() where l < byClass.count { byClass[l].append(i) }
        for (label, indexes) in byClass.enumerated() {
            let color = FeatureScatter.svgColors[label % FeatureScatter.svgColors.count]
            svg += "<g class=\"series\" data-name=\"\(SVGPlot.escape(names[label]))\" data-label=\"\(label)\" fill=\"\(color)\" fill-opacity=\"0.55\">"
            for i in indexes {
                svg += "<circle cx=\"\(SVGPlot.number(px(Double(record.x[i])), decimals: 1))\" cy=\"\(SVGPlot.number(py(Double(record.y[i])), decimals: 1))\" r=\"1.8\"/>"
            }
            svg += "</g>\n"
        }

        // Legend: a swatch per class and its name with the number of points.
        let lx = left + side + 16
        svg += "<g class=\"legend\">\n"
        for (label, text) in legend.enumerated() {
            let y = top + 8 + 16 * Double(label)
            let color = FeatureScatter.svgColors[label % FeatureScatter.svgColors.count]
            svg += "<rect x=\"\(SVGPlot.number(lx))\" y=\"\(SVGPlot.number(y - 5))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(SVGPlot.number(lx + 16))\" y=\"\(SVGPlot.number(y + 4))\">\(SVGPlot.escape(text))</text>\n"
        }
        svg += "</g>\n"
        return svg + "</svg>\n"
    }
}
