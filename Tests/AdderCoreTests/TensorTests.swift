import Testing
import AdderCore

@Suite("Tensor")
struct TensorTests {
    @Test func copyOnWriteKeepsCopiesIndependent() throws {
        let a = try Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        var b = a
        b[0, 1] = 9
        #expect(a.values == [1, 2, 3, 4])
        #expect(b.values == [1, 9, 3, 4])
    }

    @Test func shapeErrorsNameBothShapes() throws {
        let a = Tensor(shape: [2, 3])
        #expect(throws: TensorError.shapeMismatch(expected: [2, 3], got: [4, 2], context: "reshape")) { try a.reshaped([4, 2]) }
        let e = TensorError.shapeMismatch(expected: [2, 3], got: [4, 2], context: "reshape")
        #expect(e.description.contains("[2, 3]") && e.description.contains("[4, 2]"))
        #expect(throws: TensorError.countMismatch(shape: [2, 2], count: 3)) { try Tensor(shape: [2, 2], values: [1, 2, 3]) }
    }

    @Test func seededGeneratorIsDeterministicAndNormal() {
        var g1 = SeededGenerator(seed: 42), g2 = SeededGenerator(seed: 42)
        let a = Tensor.normal(shape: [10_000], generator: &g1), b = Tensor.normal(shape: [10_000], generator: &g2)
        #expect(a == b)
        let (mean, std) = a.meanAndStd()
        #expect(abs(mean) < 0.05 && abs(std - 1) < 0.05)
        var g3 = SeededGenerator(seed: 43)
        #expect(Tensor.normal(shape: [10_000], generator: &g3) != a)
    }
}
