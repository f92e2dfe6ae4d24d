import AltoModels
import AltoTiering
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore

/// Carries out one `reconcile.target`: deletes what the sanitizer decided to delete, lists the target (this host's
/// copies, or the tenant's whole prefix), reads back and verifies a share of the copies against their descriptions,
/// checks this host's registered stubs on the target, and reports it all to the API a page at a time, so the agent
/// holds one listing page and one report page however many objects the target has.
struct TargetReconciler: Sendable {
    let settings: AgentSettings
    let catalog: TargetCatalog
    let logger: Logger

    /// Runs the command and reports it; a target that cannot be listed is reported as the run's error.
    func run(_ command: ReconcileTarget) async throws {
        var logger = logger
        logger[metadataKey: "run"] = "\(command.runID)"
        logger[metadataKey: "target"] = "\(command.target.id)"
        try catalog.remember(command.target)
        var report = Report(reconciler: self, runID: command.runID)
        do {
            let store = try await catalog.store(for: command.target)
            for purge in command.purges { try await report.add([await carryOut(purge, in: store)]) }
            for remake in command.remakes { try await report.add([await makeAgain(remake, on: store, targetID: command.target.id)]) }
            var described: Set<String> = []
            for location in command.rebuilds {
                guard let row = await describe(location, in: store, targetID: command.target.id) else { continue }
                if row.outcome != "refused" { described.insert(location) }
                try await report.add([row])
            }
            for location in command.deletions where !described.contains(location) {
                if let reason = await reasonToKeep(location, in: store) {
                    logger.warning("an orphan to delete is kept", metadata: ["location": "\(location)", "reason": "\(reason)"])
                    continue
                }
                await store.remove(location)
                logger.notice("orphan deleted as the sanitizer decided", metadata: ["location": "\(location)"])
            }
            if command.scope != .stubs { try await list(store, command, into: &report) }
            if command.checkStubs { try await checkStubs(of: command.target.id, into: &report) }
            try await report.finish(error: nil)
        } catch let error as TieringError {
            logger.error("reconciliation failed", metadata: ["error": "\(error.message)"])
            try await report.finish(error: error.message)
        } catch let error as APIRefusal where error.status == 404 {
            // The run expired or was reported already (a redelivered command): there is nothing left to do for it.
            logger.warning("the run is no longer open; dropped", metadata: ["answer": "\(error.message)"])
            return
        }
        logger.info("reconciliation reported", metadata: ["objects": "\(report.objects)", "verified": "\(report.verified)",
                                                        "stubs": "\(report.stubs)"])
    }

    /// Purges the copy of a stub the registry has as deleted, unless the stub is still there (back at its path, or
    /// moved, found by its handle) or it cannot be told; reports which.
    private func carryOut(_ purge: ReconcileTarget.Purge, in store: any TierStore) async -> ReconciliationReport.Row {
        let path = String(decoding: PathEncoding.decode(purge.filePath), as: UTF8.self)
        var row = ReconciliationReport.Row(kind: .stub, location: purge.location, key: purge.filePath)
        let handle = purge.handle.flatMap(StubHandle.init(text:))
        switch StubWhereabouts.find(path: path, location: purge.location, hash: nil, handle: handle) {
        case .inPlace:
            (row.outcome, row.movedTo, row.detail) = ("moved", purge.filePath, "the stub is back at its path")
        case .moved(let name):
            (row.outcome, row.movedTo, row.detail) = ("moved", PathEncoding.encode(name), "the stub was moved, not deleted")
        case .uncertain(let reason):
            (row.outcome, row.detail) = ("kept", reason)
        case .replaced(let why):
            (row.outcome, row.detail) = ("kept", why)
        case .gone where handle == nil:
            (row.outcome, row.detail) = ("kept", "the stub has no handle to tell a move from a deletion")
        case .gone(let why):
            await store.remove(purge.location)
            (row.outcome, row.detail) = ("purged", why)
            logger.notice("copy of a deleted stub purged past its retention", metadata: ["location": "\(purge.location)", "path": "\(path)"])
        }
        return row
    }

    /// Makes a stub's missing or damaged copy again from another copy of the same content, unless the stub no
    /// longer names it or the copy reads back good after all; reports which.
    private func makeAgain(_ remake: ReconcileTarget.Remake, on store: any TierStore, targetID: UUID) async -> ReconciliationReport.Row {
        let path = String(decoding: PathEncoding.decode(remake.filePath), as: UTF8.self)
        var row = ReconciliationReport.Row(kind: .stub, location: remake.location, key: remake.filePath, outcome: "kept")
        do throws(TieringError) {
            guard let record = try StubFile.record(at: path), record.location == remake.location else {
                row.detail = "the stub no longer names the copy"
                return row
            }
            var dataKey: SymmetricKey?
            if let encryption = record.encryption { dataKey = try await catalog.dataKey(for: encryption) }
            // The copy is judged by what the stub says it holds, whatever its description says: only a copy that
            // is gone or does not read back as the stub's content is made again.
            var stubbed = stat()
            guard lstat(path, &stubbed) == 0 else { throw TieringError.io("stat", path) }
            let truth = CopyDescription(customerID: settings.customerID, hostID: settings.hostID, targetID: targetID, fileID: 0,
                                        originalPath: remake.filePath, status: stubbed, hash: record.hash,
                                        copy: StoredCopy(location: remake.location, storedBytes: 0, verifiedHash: ""),
                                        compression: record.compression, encryption: record.encryption, tieredAt: record.tieredAt,
                                        sealingKey: nil)
            do throws(TieringError) {
                try await store.verify(remake.location, against: truth, key: dataKey)
                row.detail = "the copy reads back good"
                return row
            } catch where [.hashMismatch, .notFound].contains(error.code) {
                logger.notice("the copy is made again", metadata: ["location": "\(remake.location)", "found": "\(error.message)"])
            }
            do { try catalog.remember(remake.sourceTarget) } catch { throw TieringError(.io, "the source target cannot be kept: \(error)") }
            let sourceStore = try await catalog.store(for: remake.sourceTarget)
            guard let sourceDescription = try await sourceStore.copyDescription(of: remake.sourceLocation) else {
                throw TieringError(.untrustedRecord, "the other copy \(remake.sourceLocation) has no description to check it against")
            }
            let sourceKey = try await sourceDescription.openingKey { encryption throws(TieringError) in try await catalog.dataKey(for: encryption) }
            let remaker = CopyRemaker(customerID: settings.customerID, hostID: settings.hostID, scratchFolder: settings.stateFolder)
            try await remaker.remake(stubAt: path, encodedPath: remake.filePath, record: record, targetID: targetID, dataKey: dataKey,
                                     on: store, from: .init(store: sourceStore, location: remake.sourceLocation,
                                                            description: sourceDescription, key: sourceKey))
            (row.outcome, row.detail) = ("remade", "made again from \(remake.sourceLocation)")
            logger.notice("a missing or damaged copy was made again", metadata: ["location": "\(remake.location)", "from": "\(remake.sourceLocation)"])
        } catch {
            row.detail = error.message
        }
        return row
    }

    /// The registry row the description of a copy no row names gives, once it is found to be this host's, in its
    /// place on the target and authentic (a description in the clear only where this host's stub names the copy):
    /// active where the stub names it, deleted where no stub does. A description that cannot be trusted is refused
    /// with the reason; nil where it cannot be told now (a key or a folder out of reach), to be asked again.
    private func describe(_ location: String, in store: any TierStore, targetID: UUID) async -> ReconciliationReport.Row? {
        var row = ReconciliationReport.Row(kind: .described, location: location, key: location, outcome: "refused")
        let description: CopyDescription
        let key: SymmetricKey?
        do throws(TieringError) {
            guard let found = try await store.copyDescription(of: location) else {
                row.detail = "it has no description"
                return row
            }
            description = found
            let tenant = settings.customerID.uuidString.lowercased() + "/"
            guard let start = location.range(of: tenant)?.lowerBound else { throw TieringError(.untrustedRecord, "it is not in the tenant's folder") }
            try TreeRestore.check(description, describedAt: String(location[start...]), tenant: settings.customerID)
            guard description.hostID == settings.hostID, description.targetID.map({ $0 == targetID }) ?? true else {
                throw TieringError(.untrustedRecord, "its description names another host or target")
            }
        } catch where [.untrustedRecord, .hashMismatch].contains(error.code) {
            row.detail = error.message
            return row
        } catch {
            logger.warning("a copy's description cannot be read now", metadata: ["location": "\(location)", "error": "\(error.message)"])
            return nil
        }
        // A key that cannot be had now is no verdict on the description: it is asked about again.
        do throws(TieringError) {
            if let encryption = description.encryption {
                let dataKey = try await catalog.dataKey(for: encryption)
                guard description.isAuthentic(under: dataKey) else {
                    row.detail = "its description does not authenticate under its data key: it was changed"
                    return row
                }
                key = dataKey
            } else {
                key = nil
            }
        } catch {
            logger.warning("a copy's data key cannot be had now", metadata: ["location": "\(location)", "error": "\(error.message)"])
            return nil
        }
        let path = String(decoding: PathEncoding.decode(description.originalPath), as: UTF8.self)
        row.key = description.originalPath
        switch StubWhereabouts.find(path: path, location: location, hash: description.hash, handle: nil) {
        case .inPlace:
            row.outcome = "active"
        case .gone, .replaced:
            guard key != nil else {
                row.detail = "its description is in the clear and no stub names the copy, so nothing vouches for it"
                return row
            }
            row.outcome = "deleted"
        case .moved, .uncertain:
            return nil
        }
        row.entry = .init(fileID: description.fileID, hash: description.hash, size: description.size, storedBytes: description.storedBytes,
                          wrappedKey: description.encryption?.wrappedKey, tieredAt: description.tieredAt,
                          handle: row.outcome == "active" ? StubHandle.of(path: path)?.text : nil)
        return row
    }

    /// Why the copy at `location` must not be deleted as an orphan, or nil when nothing here names it: a copy whose
    /// result has not reached the registry yet still has its stub, found through the copy's description. Any doubt
    /// (a description or stub that cannot be read, a folder not there, as when a share is not mounted) keeps it.
    private func reasonToKeep(_ location: String, in store: any TierStore) async -> String? {
        guard CopyDescription.copyLocation(describedAt: location) == nil else { return nil }
        let description: CopyDescription
        do throws(TieringError) {
            guard let found = try await store.copyDescription(of: location) else { return nil }
            description = found
        } catch {
            return "its description cannot be read: \(error.message)"
        }
        guard description.hostID == settings.hostID else { return "another host made it" }
        let path = String(decoding: PathEncoding.decode(description.originalPath), as: UTF8.self)
        guard StubWhereabouts.folderExists(of: path) else { return "the folder of \(path) is not there" }
        do throws(TieringError) {
            if let record = try StubFile.record(at: path), record.location == location { return "the stub \(path) names it" }
        } catch where error.code == .notFound {
            return nil
        } catch {
            return "the stub \(path) cannot be read: \(error.message)"
        }
        return nil
    }

    private func list(_ store: any TierStore, _ command: ReconcileTarget, into report: inout Report) async throws {
        let host = settings.hostID.uuidString.lowercased()
        try await store.list(prefix: settings.customerID.uuidString.lowercased() + "/") { page throws(TieringError) in
            var pending: [ReconciliationReport.Row] = []
            for entry in page {
                if command.scope == .host, TierObject.host(inKey: entry.key) != host[...] { continue }
                var row = ReconciliationReport.Row(kind: .object, location: entry.location, key: entry.key, size: entry.size,
                                                   modifiedAt: entry.modifiedAt)
                if CopyDescription.copyLocation(describedAt: entry.location) == nil, !entry.key.hasSuffix(".partial"),
                   command.verifyFraction > 0, Double.random(in: 0..<1) < command.verifyFraction {
                    (row.outcome, row.detail) = await verify(entry.location, in: store)
                }
                pending.append(row)
            }
            do {
                try await report.add(pending)
            } catch {
                throw TieringError(.transient, "reporting to the API failed: \(error)")
            }
        }
    }

    /// Reads one copy back against its description; nil when it has none to check it against (a finding of its own).
    private func verify(_ location: String, in store: any TierStore) async -> (String?, String?) {
        do throws(TieringError) {
            guard let description = try await store.copyDescription(of: location) else { return (nil, nil) }
            let key = try await description.openingKey { encryption throws(TieringError) in try await catalog.dataKey(for: encryption) }
            try await store.verify(location, against: description, key: key)
            return ("ok", nil)
        } catch where error.code == .hashMismatch {
            return ("damaged", error.message)
        } catch {
            return (nil, "not verified: \(error.message)")
        }
    }

    /// Every stub the registry has for this host on the target, a page at a time: gone, or no longer the stub the
    /// registry knows. The record is read without opening the file, so no check recalls it.
    private func checkStubs(of targetID: UUID, into report: inout Report) async throws {
        var after: String?
        repeat {
            let page = try await stubPage(targetID: targetID, after: after)
            var rows: [ReconciliationReport.Row] = []
            for stub in page.stubs {
                report.stubs += 1
                let path = String(decoding: PathEncoding.decode(stub.filePath), as: UTF8.self)
                let problem: (String, String)?
                var movedTo: String?
                switch StubWhereabouts.find(path: path, location: stub.location, hash: stub.hash,
                                            handle: stub.handle.flatMap(StubHandle.init(text:))) {
                case .inPlace: problem = nil
                case .moved(let name):
                    movedTo = PathEncoding.encode(name)
                    problem = ("moved", "the stub was moved")
                case .gone(let why): problem = ("missing", why)
                case .replaced(let why), .uncertain(let why): problem = ("differs", why)
                }
                if let (outcome, detail) = problem {
                    rows.append(.init(kind: .stub, location: stub.location, key: stub.filePath, outcome: outcome, detail: detail,
                                      movedTo: movedTo))
                }
            }
            try await report.add(rows)
            after = page.next
        } while after != nil
    }

    private func stubPage(targetID: UUID, after: String?) async throws -> ReconciliationReport.StubPage {
        var components = URLComponents(string: settings.apiURL + "/api/v1/agent/stubs")
        components?.queryItems = [URLQueryItem(name: "target_id", value: targetID.uuidString.lowercased())]
            + (after.map { [URLQueryItem(name: "after", value: $0)] } ?? [])
        let body = try await send("GET", components?.url?.absoluteString ?? "", body: nil)
        return try AltoJSON.decoder().decode(ReconciliationReport.StubPage.self, from: Data(body))
    }

    fileprivate func send(_ method: String, _ url: String, body: [UInt8]?) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(settings.token)")
        request.headers.add(name: "X-Alto-Customer-Id", value: settings.customerID.uuidString.lowercased())
        request.headers.add(name: "X-Alto-Host-Id", value: settings.hostID.uuidString.lowercased())
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let answer = Array(buffer: try await response.body.collect(upTo: 16 << 20))
        guard (200..<300).contains(response.status.code) else {
            throw APIRefusal(status: Int(response.status.code),
                             message: "\(method) \(url) answered \(response.status.code): \(String(decoding: answer.prefix(300), as: UTF8.self))")
        }
        return answer
    }

    /// An answer of the API other than a success.
    struct APIRefusal: Error {
        var status: Int
        var message: String
    }

    /// The pages of one run's report, sent as they fill.
    private struct Report {
        let reconciler: TargetReconciler
        let runID: UUID
        var rows: [ReconciliationReport.Row] = []
        var objects: Int64 = 0
        var verified: Int64 = 0
        var stubs: Int64 = 0

        var base: String { reconciler.settings.apiURL + "/api/v1/agent/reconciliations/\(runID.uuidString.lowercased())" }

        mutating func add(_ more: [ReconciliationReport.Row]) async throws {
            for row in more {
                if row.kind == .object { objects += 1 }
                if row.outcome == "ok" || row.outcome == "damaged", row.kind == .object { verified += 1 }
                rows.append(row)
                if rows.count == ReconciliationReport.maximumRows { try await flush() }
            }
        }

        mutating func finish(error: String?) async throws {
            try await flush()
            let completion = ReconciliationReport.Completion(objectsListed: objects, copiesVerified: verified, stubsChecked: stubs, error: error)
            _ = try await reconciler.send("POST", base + "/complete", body: Array(try AltoJSON.encoder().encode(completion)))
        }

        private mutating func flush() async throws {
            guard !rows.isEmpty else { return }
            _ = try await reconciler.send("POST", base + "/rows", body: Array(try AltoJSON.encoder().encode(ReconciliationReport(rows: rows))))
            rows.removeAll(keepingCapacity: true)
        }
    }
}
