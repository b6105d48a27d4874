import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// What an SVG document holds, read back with an XML parser: the series groups (by their
/// data-name), polylines, band paths, and all the text.
public final class SVGContents: NSObject, XMLParserDelegate {
    public var series: [String] = []
    public var polylines: [[(Double, Double)]] = []
    public var bands = 0
    public var circles = 0
    /// Circles inside each series group, in the order of `series`.
    public var seriesCircles: [Int] = []
    private var seriesDepth = 0
    private var depth = 0
    public var text = ""
    public var root = ""
    public var error: Error?

    /// Parses `svg`; nil when it is not well-formed XML.
    public static func parse(_ svg: String) -> SVGContents? {
        let c = SVGContents()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = c
        return parser.parse() && c.error == nil ? c : nil
    }

    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root.isEmpty { root = name }
        depth += 1
        if name == "g", attributes["class"] == "series" { series.append(attributes["data-name"] ?? ""); seriesCircles.append(0); seriesDepth = depth }
        if name == "circle", seriesDepth > 0 { seriesCircles[seriesCircles.count - 1] += 1 }
        if name == "path", attributes["class"] == "band" { bands += 1 }
        if name == "circle" { circles += 1 }
        if name == "polyline" {
            let points = (attributes["points"] ?? "").split(separator: " ").map { p -> (Double, Double) in
                let xy = p.split(separator: ",").map { Double($0) ?? .nan }
                return (xy[0], xy.count > 1 ? xy[1] : .nan)
            }
            polylines.append(points)
        }
    }

    public func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if depth == seriesDepth { seriesDepth = 0 }
        depth -= 1
    }

    public func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    public func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }
}
