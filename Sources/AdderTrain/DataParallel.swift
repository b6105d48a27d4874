import AdderCore
import AdderNN
import Foundation

/// One run over the ranks of an MPI job (`mpirun -np N adderlab run X.yaml`): what the
/// ranks do together besides the training step itself (which `Model.trainStep` makes
/// data-parallel). Every function here is called by every rank at the same point.
extension Trainer {
    /// After rank 0 has opened the run directory (and restored its checkpoint): every rank
    /// takes rank 0's state, so all start from the same weights, buffers, step and controls.
    func startTogether(_ ranks: any Collective) throws(RunError) {
        copyState(from: 0, over: ranks)
        if run.isWriter {
            let b = plan.batchSize
            try sink.log("data-parallel over \(ranks.size) ranks: each trains on \(b / ranks.size) of every batch of \(b), with batch norm synchronised; rank 0 writes this directory")
        }
        let (total, current, e) = (totalSteps, step, eta)
        run.store.update { $0.totalSteps = total; $0.step = current; $0.eta = e; $0.gradientMode = self.mode() }
    }

    /// The controls of this step: rank 0 applies what was sent to it (and waits here while
    /// paused), then tells every rank whether to stop, η and each adder layer's rules, which
    /// they take. True when the run must stop now (on every rank).
    func exchangeControls() throws(RunError) -> Bool {
        guard let ranks = run.collective else { return try applyCommands() }
        // A failure on rank 0 must still reach the others: they are waiting for this message.
        let stop: Bool
        do { stop = try run.isWriter ? applyCommands() : false } catch {
            sendControls(ranks, stop: true)
            throw error
        }
        return sendControls(ranks, stop: stop)
    }

    /// Rank 0's controls to every rank; true when they say stop.
    @discardableResult
    private func sendControls(_ ranks: any Collective, stop: Bool) -> Bool {
        let layers = model.adderLayers
        let mine: [Double] = [stop ? 1 : 0, eta] + layers.flatMap { (_, layer) -> [Double] in Self.code(layer.rules) }
        var message = mine
        ranks.broadcast(&message, from: 0)
        if !run.isWriter, message[1...] != mine[1...] {
            eta = message[1]
            optimizer.configuration.eta = Float(eta)
            for (k, (_, layer)) in layers.enumerated() {
                if let rules = Self.rules(message[2 + 2 * k], message[3 + 2 * k]) { layer.rules = rules }
            }
            let (e, now) = (eta, mode())
            run.store.update { $0.eta = e; $0.gradientMode = now }
        }
        return message[0] != 0
    }

    /// A rule pair as two numbers (their indexes), and back.
    static func code(_ rules: GradientRules) -> [Double] {
        [Double(AdderKernels.FilterRule.allCases.firstIndex(of: rules.filter)!), Double(AdderKernels.InputRule.allCases.firstIndex(of: rules.input)!)]
    }

    static func rules(_ filter: Double, _ input: Double) -> GradientRules? {
        let f = AdderKernels.FilterRule.allCases, i = AdderKernels.InputRule.allCases
        guard let a = Int(exactly: filter), let b = Int(exactly: input), f.indices.contains(a), i.indices.contains(b) else { return nil }
        return GradientRules(filter: f[a], input: i[b])
    }

    /// Every rank's checksum of its weights, buffers and momentum; when they differ (the
    /// ranks must train identical copies), rank 0's state is copied to every rank and the
    /// log says so. Called before each checkpoint, so rank 0 saves what every rank trains.
    func checkRanksAgree(_ ranks: any Collective) throws(RunError) {
        let sums = ranks.gather(withUnsafeBytes(of: stateChecksum().littleEndian) { Array($0) })
        lastChecksums = sums.map { $0.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }
        guard Set(lastChecksums).count > 1 else { return }
        copyState(from: 0, over: ranks)
        if run.isWriter {
            let listed = lastChecksums.enumerated().map { String(format: "rank %d %016llx", $0.offset, $0.element) }.joined(separator: ", ")
            try sink.log("step \(step): the ranks' weights differed (\(listed)); rank 0's were copied to every rank")
        }
    }

    /// The log's closing line of a data-parallel run: the ranks' checksums at the last
    /// check and the share of the time spent in collective calls.
    func ranksSummary(_ ranks: any Collective) -> String {
        let same = !lastChecksums.isEmpty && Set(lastChecksums).count == 1
        let sums = same ? String(format: "identical on all %d ranks (checksum %016llx)", ranks.size, lastChecksums[0])
            : lastChecksums.enumerated().map { String(format: "rank %d %016llx", $0.offset, $0.element) }.joined(separator: ", ")
        let training = Date().timeIntervalSince(started)
        return String(format: "ranks: weights %@; rank 0 spent %.1f s of %.1f s in collective calls (%.1f%%)", sums,
                      ranks.secondsInCalls, training, 100 * ranks.secondsInCalls / max(training, 1e-9))
    }

    /// Prints this rank's failure on standard error and ends every rank of the job.
    func abortJob(_ ranks: any Collective, _ message: String) -> Never {
        FileHandle.standardError.write(Data("adderlab: rank \(ranks.rank): \(config.name): \(message)\n".utf8))
        if let mpi = ranks as? MPICollective { mpi.abort(1) }
        // In-process ranks (tests) cannot abort the others: end this one's thread's work by trapping.
        fatalError("rank \(ranks.rank): \(message)")
    }

    // MARK: the state every rank must share

    /// Rank `root`'s counters, controls, parameters, running statistics and momentum, on every rank.
    func copyState(from root: Int, over ranks: any Collective) {
        let parameters = model.namedParameters.map(\.1)
        let buffers = optimizer.momentumBuffers
        let counters: [Double] = [Double(step), Double(trainCorrect), Double(trainSeen), timeOffset, eta, Double(optimizer.stepCount)]
        let present: [Double] = buffers.map { $0 == nil ? 0 : 1 }
        var header = counters + present + model.adderLayers.flatMap { (_, layer) -> [Double] in Self.code(layer.rules) }
        ranks.broadcast(&header, from: root)
        var values = [Float]()
        values.reserveCapacity(parameters.reduce(0) { $0 + $1.value.count } + optimizer.parameters.reduce(0) { $0 + $1.1.value.count })
        for p in parameters { values += p.value.values }
        for (b, (_, p)) in zip(buffers, optimizer.parameters) { values += b?.values ?? Array(repeating: 0, count: p.value.count) }
        ranks.broadcast(&values, from: root)
        guard ranks.rank != root else { return }
        step = Int(header[0]); trainCorrect = Int(header[1]); trainSeen = Int(header[2]); timeOffset = header[3]
        eta = header[4]
        optimizer.configuration.eta = Float(eta)
        var offset = 0
        func take(_ shape: [Int]) -> Tensor {
            let n = shape.reduce(1, *)
            defer { offset += n }
            // This rank's own shapes and counts: they match.
            return try! Tensor(shape: shape, values: Array(values[offset..<offset + n]))
        }
        for p in parameters { p.value = take(p.value.shape) }
        let restored = zip(header[6..<6 + buffers.count], optimizer.parameters).map { flag, named -> Tensor? in
            let t = take(named.1.value.shape)
            return flag != 0 ? t : nil
        }
        // Shapes come from this rank's own model: they match.
        try! optimizer.restore(momentumBuffers: restored, stepCount: Int(header[5]))
        let codes = header[(6 + buffers.count)...].map { $0 }
        for (k, (_, layer)) in model.adderLayers.enumerated() {
            if let rules = Self.rules(codes[2 * k], codes[2 * k + 1]) { layer.rules = rules }
        }
    }

    /// FNV-1a over the bits of every parameter, running statistic and momentum buffer.
    func stateChecksum() -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ t: Tensor) {
            t.withUnsafeBufferPointer { p in
                for v in p { hash = (hash ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
            }
        }
        for (_, p) in model.namedParameters { mix(p.value) }
        for b in optimizer.momentumBuffers { if let b { mix(b) } }
        return hash
    }
}
