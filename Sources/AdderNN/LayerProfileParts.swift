import AdderCore

// The step-profile part of each leaf layer (`Layer.profilePart`, read by the containers'
// `profiledForward`/`profiledBackward`). The unfolded layers measure their own parts.

extension BatchNorm {
    public var profilePart: StepProfile.Part? { .batchNorm }
}

extension Linear {
    public var profilePart: StepProfile.Part? { .gemm }
}

extension ReLU {
    public var profilePart: StepProfile.Part? { .elementwise }
}

extension MaxPool2d {
    public var profilePart: StepProfile.Part? { .elementwise }
}

extension GlobalAvgPool {
    public var profilePart: StepProfile.Part? { .elementwise }
}

extension Flatten {
    public var profilePart: StepProfile.Part? { .elementwise }
}

extension Unflatten {
    public var profilePart: StepProfile.Part? { .elementwise }
}
