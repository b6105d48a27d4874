import AdderTrain
import Foundation

/// The bottom line: the last message (or, on a run another process trains, its holder), then smoothing, scale, x axis and comparison count.
struct StatusLine: Widget {
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area: Rect) {
        let g = glyphs, width = area.width, y = area.y
        let dot = g.unicode ? "·" : "|"
        let opts = String(format: "smoothing %.2f %@ %@ %@ x: %@ %@ %d compared", state.smoothing, dot, state.logScale ? "log" : "linear",
                          dot, state.xAxis.rawValue, dot, state.compared.count)
        var message = g.text(state.message)
        // Nothing said: on a run another process trains, who and on which host (its lock's holder).
        if message.isEmpty, let e = state.focused, !e.live, e.snapshot.state == .running { message = g.text(e.snapshot.message) }
        let text = message.isEmpty ? opts : message + "  \(dot)  " + opts
        grid.put(area.x, y, Grid.fit(" " + text, width, unicode: g.unicode), Style(dim: state.message.isEmpty))
    }
}
