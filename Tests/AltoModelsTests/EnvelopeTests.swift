import AltoModels
import Foundation
import Testing

@Suite struct EnvelopeTests {
    let customer = UUID()
    let host = UUID()

    @Test func roundTripsWithTheContractsFieldNames() throws {
        let job = IngestJob(batchID: UUID(), scanID: UUID(), byteCount: 42, scanStartedAt: Date(timeIntervalSince1970: 1_761_609_900))
        let envelope = Envelope(customerID: customer, hostID: host, createdAt: Date(timeIntervalSince1970: 1_761_609_901), payload: job)
        let body = try envelope.encoded()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(json["schema"] as? String == "alto.envelope")
        #expect(json["version"] as? Int == 1)
        #expect(json["type"] as? String == "ingest.job")
        #expect(json["customer_id"] as? String == customer.uuidString)
        #expect(json["created_at"] is String)
        #expect((json["payload"] as? [String: Any])?["scan_started_at"] as? String == "2025-10-28T00:05:00Z")
        #expect(EnvelopeReader.read(IngestJob.self, from: body) == .accepted(envelope))
    }

    @Test func anIngestJobOfBeforeListingsOfChangesListsEveryFile() throws {
        let job = IngestJob(batchID: UUID(), scanID: UUID(), byteCount: 42, scanStartedAt: Date(timeIntervalSince1970: 1_761_609_900),
                            listing: .changes, kind: .deletions)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(try Envelope(customerID: customer, hostID: host, payload: job)
            .encoded())) as? [String: Any])
        var payload = try #require(json["payload"] as? [String: Any])
        #expect(payload["listing"] as? String == "changes" && payload["kind"] as? String == "deletions")
        for field in ["listing", "kind"] { payload[field] = nil }
        json["payload"] = payload
        guard case .accepted(let read) = EnvelopeReader.read(IngestJob.self, from: Array(try JSONSerialization.data(withJSONObject: json))) else {
            Issue.record("a job without the fields of listings of changes must be accepted")
            return
        }
        #expect(read.payload.listing == .complete && read.payload.kind == .files)
    }

    @Test func ignoresUnknownFields() throws {
        let envelope = Envelope(customerID: customer, hostID: host, payload: PlannerTrigger(reason: .admin))
        var json = try #require(try JSONSerialization.jsonObject(with: Data(try envelope.encoded())) as? [String: Any])
        json["added_in_a_later_minor"] = ["anything": true]
        var payload = try #require(json["payload"] as? [String: Any])
        payload["new_field"] = 7
        json["payload"] = payload
        let body = Array(try JSONSerialization.data(withJSONObject: json))
        guard case .accepted(let read) = EnvelopeReader.read(PlannerTrigger.self, from: body) else {
            Issue.record("an envelope with extra fields must be accepted")
            return
        }
        #expect(read.payload.reason == .admin)
    }

    @Test func refusesAnotherMajorVersion() throws {
        let body = try mutated { $0["version"] = 2 }
        guard case .refused(let reason) = EnvelopeReader.read(PlannerTrigger.self, from: body) else {
            Issue.record("version 2 must be refused")
            return
        }
        #expect(reason.contains("version 2"))
    }

    @Test func refusesAnUnexpectedType() throws {
        let body = try mutated { $0["type"] = "something.else" }
        guard case .refused(let reason) = EnvelopeReader.read(PlannerTrigger.self, from: body) else {
            Issue.record("an unknown type must be refused")
            return
        }
        #expect(reason.contains("something.else"))
    }

    @Test func refusesAPayloadThatDoesNotDecode() throws {
        let body = try mutated { $0["payload"] = ["reason": "because"] }
        guard case .refused(let reason) = EnvelopeReader.read(PlannerTrigger.self, from: body) else {
            Issue.record("a bad payload must be refused")
            return
        }
        #expect(reason.contains("planner.trigger payload does not decode"))
    }

    @Test func refusesBytesThatAreNotJSON() {
        guard case .refused(let reason) = EnvelopeReader.read(PlannerTrigger.self, from: Array("{not json".utf8)) else {
            Issue.record("garbage must be refused")
            return
        }
        #expect(reason.hasPrefix("not an Alto envelope"))
    }

    private func mutated(_ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
        let envelope = Envelope(customerID: customer, hostID: host, payload: PlannerTrigger(reason: .admin))
        var json = try #require(try JSONSerialization.jsonObject(with: Data(try envelope.encoded())) as? [String: Any])
        change(&json)
        return Array(try JSONSerialization.data(withJSONObject: json))
    }
}
