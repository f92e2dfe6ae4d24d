import AltoModels
import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore

/// Uploads finished scans from the spool, oldest first, batch by batch in order. A batch file is deleted only
/// once the API acknowledged it, so a restarted agent picks up where it stopped; the batch id travels with it,
/// so a batch sent twice (acknowledged, then the agent died before deleting it) is accepted once.
struct SpoolUploader: Sendable {
    let settings: AgentSettings
    let spoolFolder: String
    let logger: Logger
    /// Tries per batch before it is left on disk for the next round.
    var attempts = 3
    var firstDelay: Duration = .milliseconds(500)

    enum Outcome: Equatable {
        /// Nothing is left to upload.
        case done
        /// A batch could not be delivered now (network, API down, token refused); it stays on disk.
        case retryLater(String)
    }

    func uploadPending() async -> Outcome {
        // Our own client rather than the shared one: a refused connection must fail the attempt within the connect
        // timeout (the shared client keeps retrying until the request's deadline), since the retries are ours.
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(300))
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let outcome = await uploadPending(with: client)
        try? await client.shutdown()
        return outcome
    }

    private func uploadPending(with client: HTTPClient) async -> Outcome {
        let scans = ((try? FileManager.default.contentsOfDirectory(atPath: spoolFolder)) ?? [])
            .compactMap { name -> (String, ScanManifest)? in
                let folder = spoolFolder + "/" + name
                guard let data = FileManager.default.contents(atPath: folder + "/" + ScanManifest.fileName),
                      let manifest = try? AltoJSON.decoder().decode(ScanManifest.self, from: data) else { return nil }
                return (folder, manifest)
            }
            .sorted { $0.1.startedAt < $1.1.startedAt }
        for (folder, manifest) in scans {
            var logger = logger
            logger[metadataKey: "scan"] = "\(manifest.scanID)"
            var refused = false
            for batch in manifest.batches where FileManager.default.fileExists(atPath: folder + "/" + batch.file) {
                logger[metadataKey: "batch"] = "\(batch.batchID)"
                let started = ContinuousClock.now
                switch await upload(batch, of: manifest, folder: folder, client: client, logger: logger) {
                case .accepted(let bytes, let takesChanges):
                    if takesChanges { markChangesTaken() }
                    Timer(label: "alto_agent_upload_duration_seconds").recordInterval(since: started)
                    Counter(label: "alto_agent_upload_bytes_total").increment(by: bytes)
                    try? FileManager.default.removeItem(atPath: folder + "/" + batch.file)
                case .refused(let reason):
                    logger.error("the API refused a batch; it is set aside", metadata: ["reason": "\(reason)"])
                    setAside(batch, folder: folder)
                    refused = true
                case .failed(let reason):
                    Counter(label: "alto_agent_upload_failures_total").increment()
                    logger.warning("batch upload failed; it stays in the spool for the next round", metadata: ["reason": "\(reason)"])
                    return .retryLater(reason)
                }
            }
            settleIndex(of: manifest, refused: refused)
            try? FileManager.default.removeItem(atPath: folder)
            logger.info("scan uploaded", metadata: ["files": "\(manifest.summary.files)", "batches": "\(manifest.batches.count)"])
        }
        return .done
    }

    /// The scan's index becomes the one the next scan lists changes against once all of the scan is in; a scan the
    /// API refused part of leaves none, so the next scan lists every file.
    private func settleIndex(of manifest: ScanManifest, refused: Bool) {
        let index = ScanIndex.file(stateFolder: settings.stateFolder, host: settings.hostID, roots: manifest.roots)
        let pending = ScanIndex.pendingFile(of: index, scanID: manifest.scanID)
        if refused {
            try? FileManager.default.removeItem(atPath: pending)
            try? FileManager.default.removeItem(atPath: index)
        } else if FileManager.default.fileExists(atPath: pending) {
            _ = rename(pending, index)
        }
    }

    private func markChangesTaken() {
        let marker = ScanIndex.changesMarker(stateFolder: settings.stateFolder)
        guard !FileManager.default.fileExists(atPath: marker) else { return }
        try? FileManager.default.createDirectory(atPath: (marker as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: marker, contents: nil)
    }

    /// What the API says of an accepted batch that the agent acts on.
    private struct Acceptance: Decodable {
        var listingsOfChanges: Bool?
        enum CodingKeys: String, CodingKey {
            case listingsOfChanges = "listings_of_changes"
        }
    }

    private enum BatchOutcome {
        /// The API took the batch's bytes, and says whether it takes listings of changes.
        case accepted(Int, takesChanges: Bool)
        /// The API will never take this batch as it is (400, 413, 415).
        case refused(String)
        case failed(String)
    }

    private func upload(_ batch: ScanManifest.Batch, of manifest: ScanManifest, folder: String, client: HTTPClient,
                        logger: Logger) async -> BatchOutcome {
        guard let body = FileManager.default.contents(atPath: folder + "/" + batch.file) else {
            return .failed("cannot read \(batch.file)")
        }
        var request = HTTPClientRequest(url: settings.apiURL + "/api/v1/scan-results")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(settings.token)")
        request.headers.add(name: "Content-Type", value: "text/csv")
        if manifest.compression != .none { request.headers.add(name: "Content-Encoding", value: manifest.compression.rawValue) }
        request.headers.add(name: "X-Alto-Customer-Id", value: settings.customerID.uuidString.lowercased())
        request.headers.add(name: "X-Alto-Host-Id", value: settings.hostID.uuidString.lowercased())
        request.headers.add(name: "X-Alto-Scan-Id", value: manifest.scanID.uuidString.lowercased())
        request.headers.add(name: "X-Alto-Batch-Id", value: batch.batchID.uuidString.lowercased())
        request.headers.add(name: "X-Alto-Batch-Index", value: String(batch.index))
        let isFinal = batch.index == manifest.batches.count - 1
        request.headers.add(name: "X-Alto-Final-Batch", value: isFinal ? "true" : "false")
        request.headers.add(name: "X-Alto-Full-Scan", value: manifest.isFullScan ? "true" : "false")
        request.headers.add(name: "X-Alto-Listing", value: manifest.listing.rawValue)
        if isFinal { request.headers.add(name: "X-Alto-Scan-Files", value: String(manifest.summary.files)) }
        request.headers.add(name: "X-Alto-Scan-Started-At", value: RFC3339.format(manifest.startedAt))
        request.body = .bytes(ByteBuffer(data: body))
        var delay = firstDelay
        var lastFailure = ""
        for attempt in 1...attempts {
            if attempt > 1 {
                try? await Task.sleep(for: delay)
                delay *= 2
            }
            do {
                let response = try await client.execute(request, timeout: .seconds(300))
                let answer = try await response.body.collect(upTo: 1 << 20)
                switch response.status.code {
                case 202:
                    let acceptance = try? JSONDecoder().decode(Acceptance.self, from: Data(buffer: answer))
                    return .accepted(body.count, takesChanges: acceptance?.listingsOfChanges == true)
                case 400, 413, 415:
                    return .refused("\(response.status.code): \(String(buffer: answer))")
                case 401, 403:
                    return .failed("\(response.status.code): \(String(buffer: answer))")
                default:
                    lastFailure = "\(response.status.code): \(String(buffer: answer))"
                }
            } catch {
                lastFailure = "\(error)"
            }
            logger.warning("batch upload failed", metadata: ["attempt": "\(attempt)", "reason": "\(lastFailure)"])
        }
        return .failed(lastFailure)
    }

    /// Moves a refused batch out of the upload order, kept for an admin to look at.
    private func setAside(_ batch: ScanManifest.Batch, folder: String) {
        let rejected = spoolFolder + "/../rejected"
        try? FileManager.default.createDirectory(atPath: rejected, withIntermediateDirectories: true)
        try? FileManager.default.moveItem(atPath: folder + "/" + batch.file, toPath: rejected + "/" + batch.file)
    }
}
