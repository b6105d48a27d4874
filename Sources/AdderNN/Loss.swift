import AdderCore

/// Softmax cross-entropy over N × C logits, averaged over the batch, computed
/// with the log-sum-exp shift so large logits do not overflow.
public enum SoftmaxCrossEntropy {
    public struct Result: Sendable {
        /// Mean loss over the batch.
        public let loss: Float
        /// ∂loss/∂logits, N × C.
        public let gradient: Tensor
        /// Samples whose label is the top prediction / among the top five.
        public let correctTop1: Int
        public let correctTop5: Int
    }

    /// Loss, gradient and accuracy counts. Every label must lie in 0..<C.
    public static func evaluate(logits: Tensor, labels: [Int]) -> Result {
        precondition(logits.shape.count == 2 && logits.shape[0] == labels.count,
                     "SoftmaxCrossEntropy: logits \(logits.shape) do not match \(labels.count) labels")
        let n = logits.shape[0], c = logits.shape[1]
        var grad = Tensor(uninitializedShape: [n, c])
        var total = 0.0, top1 = 0, top5 = 0
        logits.withUnsafeBufferPointer { lb in
            grad.withUnsafeMutableBufferPointer { gb in
                for i in 0..<n {
                    let y = labels[i]
                    precondition(y >= 0 && y < c, "SoftmaxCrossEntropy: label \(y) of sample \(i) is outside 0..<\(c)")
                    let row = lb.baseAddress! + i * c
                    var mx = row[0]
                    for j in 1..<c where row[j] > mx { mx = row[j] }
                    var sum = 0.0
                    for j in 0..<c { sum += Double(expf(row[j] - mx)) }
                    let logSum = Double(mx) + log(sum)
                    total += logSum - Double(row[y])
                    var higher = 0
                    for j in 0..<c {
                        let p = exp(Double(row[j]) - logSum)
                        gb[i * c + j] = Float((p - (j == y ? 1 : 0)) / Double(n))
                        if row[j] > row[y] || (row[j] == row[y] && j < y) { higher += 1 }
                    }
                    if higher == 0 { top1 += 1 }
                    if higher < 5 { top5 += 1 }
                }
            }
        }
        return Result(loss: Float(total / Double(max(n, 1))), gradient: grad, correctTop1: top1, correctTop5: top5)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
