/// Gradient clipping, applied to the reduced gradient before the update.
public enum GradientClipping: Sendable, Equatable {
    case none
    /// `clip_grad_norm_`: scale all gradients by `max / (norm + 1e-6)` when the global L2 norm exceeds `max`.
    case norm(Float)
    /// `clip_grad_value_`: clamp every gradient element into `-max...max`.
    case value(Float)

    /// Refuses a limit that is not a finite positive number: a negative one
    /// would reverse the update, a NaN one would silently not clip.
    public func validate() throws(ModelError) {
        switch self {
        case .none: return
        case .norm(let limit), .value(let limit):
            guard limit > 0, limit.isFinite else {
                throw .invalidSetting("the clipping limit is \(limit), expected a finite value > 0")
            }
        }
    }
}
