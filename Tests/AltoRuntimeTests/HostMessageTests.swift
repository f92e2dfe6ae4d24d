import AltoAMQP
import AltoModels
import AltoRuntime
import Foundation
import Logging
import Testing

/// The accept / dead-letter / retry decisions every consumer makes, without a broker.
@Suite struct HostMessageTests {
    struct Failure: Error {}
    let logger = Logger(label: "test")

    func delivery(_ body: [UInt8]) -> AMQPDelivery {
        AMQPDelivery(message: AMQPMessage(body: body), queue: "planner.jobs")
    }

    func trigger(hostID: UUID?) throws -> [UInt8] {
        try Envelope(customerID: UUID(), hostID: hostID, payload: PlannerTrigger(reason: .admin)).encoded()
    }

    @Test func aReadableHostMessageReachesTheHandler() async throws {
        let host = UUID()
        let settlement = await HostMessage.handle(delivery(try trigger(hostID: host)), as: PlannerTrigger.self, logger: logger) { envelope, hostID, _ in
            #expect(hostID == host)
            #expect(envelope.payload.reason == .admin)
            return .ack
        }
        #expect(settlement == .ack)
    }

    @Test func garbageIsDeadLetteredWithItsReason() async {
        let settlement = await HostMessage.handle(delivery(Array("nope".utf8)), as: PlannerTrigger.self, logger: logger) { _, _, _ in
            Issue.record("the handler must not run")
            return .ack
        }
        guard case .deadLetter(let reason) = settlement else {
            Issue.record("expected a dead letter, got \(settlement)")
            return
        }
        #expect(reason.hasPrefix("not an Alto envelope"))
    }

    @Test func aMessageOfAnotherTypeIsDeadLettered() async throws {
        let body = try Envelope(customerID: UUID(), hostID: UUID(), payload: PlannerTrigger(reason: .admin)).encoded()
        let settlement = await HostMessage.handle(delivery(body), as: IngestJob.self, logger: logger) { _, _, _ in .ack }
        #expect(settlement == .deadLetter(reason: "unexpected message type planner.trigger; this queue takes ingest.job"))
    }

    @Test func aMessageWithoutAHostIsDeadLettered() async throws {
        let settlement = await HostMessage.handle(delivery(try trigger(hostID: nil)), as: PlannerTrigger.self, logger: logger) { _, _, _ in .ack }
        #expect(settlement == .deadLetter(reason: "a planner.trigger message needs host_id"))
    }

    @Test func aFailingHandlerAsksForARetry() async throws {
        let settlement = await HostMessage.handle(delivery(try trigger(hostID: UUID())), as: PlannerTrigger.self, logger: logger) { _, _, _ in
            throw Failure()
        }
        #expect(settlement == .retry)
    }
}
