import Foundation

/// The element types the backward ops run in: `Float` for training, `Double` for the gradient
/// checks against central finite differences (float32 differences are too noisy to check
/// gradients to more than two or three digits).
///
/// The ops are generic over this protocol and live in this module, so the optimiser
/// specialises every call site for `Float`; the protocol only adds the two transcendental
/// functions `BinaryFloatingPoint` lacks.
public protocol TrainingScalar: BinaryFloatingPoint {
    /// e^x.
    static func exponential(_ x: Self) -> Self
    /// ln x.
    static func logarithm(_ x: Self) -> Self
}

extension Float: TrainingScalar {
    @inlinable public static func exponential(_ x: Float) -> Float { Foundation.exp(x) }
    @inlinable public static func logarithm(_ x: Float) -> Float { Foundation.log(x) }
}

extension Double: TrainingScalar {
    @inlinable public static func exponential(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func logarithm(_ x: Double) -> Double { Foundation.log(x) }
}

/// A fixed-size buffer of scalars with a stable address (activations, gradients, LoRA
/// factors): the ops take plain pointers, so the trainer's buffers are not copied on write.
public final class TrainingBuffer<T: TrainingScalar>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    public let count: Int

    /// `count` zeros.
    public init(zeros count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    public convenience init(_ values: [T]) {
        self.init(zeros: values.count)
        for i in 0..<values.count { pointer[i] = values[i] }
    }

    deinit { pointer.deallocate() }

    /// The values as an array (tests, saving).
    public var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Sets every element to 0.
    public func zero() { pointer.update(repeating: 0, count: count) }

    @inlinable public subscript(i: Int) -> T {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
