import AdderData
import Synchronization

/// Loaded datasets shared by the runs of a process: several runs on Fashion-MNIST
/// decode it once. Synthetic data is drawn from a fixed seed, so every run of a
/// comparison sees the same images.
enum DatasetCache {
    private static let cache = Mutex<[String: DatasetSplits]>([:])
    static let syntheticSeed: UInt64 = 20_200_614

    static func load(_ config: ExperimentConfig) throws(DataError) -> DatasetSplits {
        let shape = config.dataset == .synthetic ? config.model.inputShape : config.dataset.defaultShape
        let key = "\(config.dataset.rawValue)|\(config.dataDir ?? "")|\(shape)"
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let splits = try Datasets.load(config.dataset, directory: config.dataDir, shape: shape, seed: syntheticSeed)
        cache.withLock { $0[key] = splits }
        return splits
    }
}
