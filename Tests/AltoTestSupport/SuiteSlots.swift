import Foundation
import Synchronization

/// How many suites of services may run at once in one test process: one per core by default
/// (`ALTO_TEST_SUITES_AT_ONCE` overrides it). Each suite starts four or five processes that migrate, connect and
/// load at once; more of them than cores, and their start-up times out on a busy machine.
public actor SuiteSlots {
    public static let shared = SuiteSlots(width: ProcessInfo.processInfo.environment["ALTO_TEST_SUITES_AT_ONCE"].flatMap(Int.init)
                                              ?? ProcessInfo.processInfo.activeProcessorCount)

    /// One suite's place; giving it back twice gives it back once.
    public final class Slot: Sendable {
        private let owner: SuiteSlots
        private let held = Atomic<Bool>(true)

        init(owner: SuiteSlots) {
            self.owner = owner
        }

        public func release() async {
            guard held.exchange(false, ordering: .relaxed) else { return }
            await owner.giveBack()
        }
    }

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(width: Int) {
        free = max(1, width)
    }

    /// Waits until a place is free and takes it.
    public func acquire() async -> Slot {
        if free > 0 {
            free -= 1
        } else {
            await withCheckedContinuation { waiting.append($0) }
        }
        return Slot(owner: self)
    }

    private func giveBack() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
