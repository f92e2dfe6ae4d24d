import Dispatch

/// Runs blocking file and C-library work on Dispatch's threads, off Swift's cooperative pool, so a slow disk or
/// share never starves the agent's other tasks.
enum Blocking {
    static func run<Value: Sendable>(_ work: @escaping @Sendable () throws(TieringError) -> Value) async throws(TieringError) -> Value {
        let result: Result<Value, TieringError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(TieringError) -> Value in try work() })
            }
        }
        return try result.get()
    }
}
