import Foundation

/// Curves of several runs (the seeds of a group) made into one: the mean at each x and
/// the band between the lowest and highest run there.
public enum SeriesAggregation {
    /// Aligns the runs' points by exact x (the union of every x, in increasing order) and
    /// gives, at each x, the mean over the runs with a finite value there and the least and
    /// greatest of those values. Non-finite y values (and points with a non-finite x) are
    /// left out; an x where no run has a finite value is omitted. A run with several points
    /// at one x counts once there, with its last one (a resumed run may repeat a step).
    ///
    /// O(n log n) in the total number of points n.
    public static func aggregate(_ runs: [[(x: Double, y: Double)]]) -> [(x: Double, mean: Double, lo: Double, hi: Double)] {
        struct Point { var x: Double; var y: Double; var run: Int; var index: Int }
        var points: [Point] = []
        points.reserveCapacity(runs.reduce(0) { $0 + $1.count })
        for (r, run) in runs.enumerated() {
            for (i, p) in run.enumerated() where p.x.isFinite && p.y.isFinite {
                points.append(Point(x: p.x, y: p.y, run: r, index: i))
            }
        }
        // By x, then by run, then by position in the run: a run's points at one x are
        // consecutive, its last one last.
        points.sort { a, b in
            if a.x != b.x { return a.x < b.x }
            if a.run != b.run { return a.run < b.run }
            return a.index < b.index
        }
        var out: [(x: Double, mean: Double, lo: Double, hi: Double)] = []
        var i = 0
        while i < points.count {
            let x = points[i].x
            var sum = 0.0, count = 0, lo = Double.infinity, hi = -Double.infinity
            while i < points.count && points[i].x == x {
                // The last point of this run at this x.
                var j = i
                while j + 1 < points.count && points[j + 1].x == x && points[j + 1].run == points[i].run { j += 1 }
                let y = points[j].y
                sum += y; count += 1
                lo = min(lo, y); hi = max(hi, y)
                i = j + 1
            }
            // Clamped into the band: a sum of large values can round outside it.
            out.append((x, min(max(sum / Double(count), lo), hi), lo, hi))
        }
        return out
    }
}

/// Colours that stay with their series: each identity (a group label, a run directory's
/// name) gets a slot from a hash of its text that is the same in every process, moved to
/// the next free slot when another identity already holds it. Once given, a slot is never
/// changed by identities added or removed later, so a curve keeps its colour as the set
/// of runs shown changes.
public struct SeriesColors: Sendable {
    public let slots: Int
    private var assigned: [String: Int] = [:]
    private var holders: [Int: String] = [:]

    public init(slots: Int) {
        precondition(slots > 0, "SeriesColors needs at least one slot")
        self.slots = slots
    }

    /// The slot of `identity`, assigned the first time it is asked for: its hash slot, or
    /// the next free one after it (wrapping); the hash slot when every slot is taken.
    public mutating func slot(for identity: String) -> Int {
        if let s = assigned[identity] { return s }
        let home = Int(SeriesColors.hash(identity) % UInt64(slots))
        var slot = home
        if holders.count < slots {
            while holders[slot] != nil { slot = (slot + 1) % slots }
        }
        assigned[identity] = slot
        if holders[slot] == nil { holders[slot] = identity }
        return slot
    }

    /// FNV-1a, 64 bits, over the UTF-8 bytes: stable across processes and platforms,
    /// unlike Swift's `Hasher`, which is seeded per process.
    public static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// Twelve colours told apart on white: Tableau 10, then olive and near-black.
    public static let svg: [String] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
        "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#bcbd22", "#222222",
    ]
}
