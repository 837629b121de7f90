import Foundation
import Synchronization

/// A persistent pool of worker threads for data-parallel kernels.
///
/// A forward pass dispatches a few hundred small jobs per token, so dispatch must cost
/// microseconds: workers spin briefly on an epoch counter after each job (the next one
/// usually follows within microseconds) and only then sleep on a condition variable.
/// The calling thread always takes part as worker 0, so a pool of one thread runs
/// everything inline with no synchronisation at all.
///
/// ```swift
/// let pool = ThreadPool(threadCount: 2)
/// pool.parallelFor(count: rows, chunk: 16) { range in /* rows in range */ }
/// ```
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in each job, including the caller.
    public let threadCount: Int

    // Job protocol. `ticket` is odd while a job is open for workers to join and even when
    // it is closed; every job moves it by two (open, close). A worker joins by first
    // incrementing `active` and only then reading `ticket`; the caller closes by moving
    // `ticket` to even and only then waiting for `active` to drain. With sequentially
    // consistent ordering on both sides, a worker either is counted in `active` before the
    // caller's wait (and the caller waits for it) or sees the job closed and leaves it
    // alone. So a worker that is descheduled by another process when a job starts never
    // holds up the caller: the caller claims all the work of a `parallelFor` itself and
    // returns. (The first version waited for every worker on every job; on this shared
    // 2-vCPU machine a preempted worker then stalled decode for whole scheduler slices —
    // 2 threads decoded 2× slower than 1.)
    private let ticket = Atomic<Int>(0)
    private let active = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let alive = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeUp = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The open job; written only while no worker can be inside a job (ticket even and
    /// `active` drained), read only by workers counted in `active` while the ticket is odd.
    private var job: ((Int) -> Void)?
    private var threads: [Thread] = []
    private let scratchSlots: UnsafeMutablePointer<(pointer: UnsafeMutablePointer<Float>?, capacity: Int)>
    /// The integer activation buffer single-token matrix products quantise into (written by
    /// the dispatching thread before each dispatch, read by all participants during it).
    private let quantizedActivations = QuantizedActivations(capacity: 4096)
    /// The same for small-batch products (``IntegerBatchKernels``).
    private let quantizedBatch = QuantizedActivationBatch()
    private let ternaryActivations = TernaryActivations(capacity: 4096)
    /// Every token of a batch-invariant decode step quantised on its own (``TokenActivationSet``).
    let tokenActivations = TokenActivationSet()
    /// How many polls of the ticket a worker makes before it goes to sleep (≈ 50–100 µs).
    private let spinLimit = 200_000

    /// The number of processors the OS lets this process use.
    public static var availableProcessors: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// A pool with `threadCount` participants (the caller plus `threadCount - 1` threads).
    public init(threadCount: Int = ThreadPool.availableProcessors) {
        self.threadCount = max(1, threadCount)
        scratchSlots = .allocate(capacity: self.threadCount)
        scratchSlots.initialize(repeating: (nil, 0), count: self.threadCount)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wakeUp, nil)
        alive.store(self.threadCount - 1, ordering: .sequentiallyConsistent)
        for index in 1..<self.threadCount {
            let thread = Thread { [unowned(unsafe) self] in self.workerLoop(index: index) }
            thread.stackSize = 1 << 20
            thread.name = "loom-worker-\(index)"
            threads.append(thread)
            thread.start()
        }
    }

    deinit {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        ticket.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wakeUp)
        pthread_mutex_unlock(mutex)
        // Each worker decrements `alive` as it leaves its loop; wait for all before freeing.
        while alive.load(ordering: .acquiring) > 0 { sched_yield() }
        pthread_cond_destroy(wakeUp)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        for i in 0..<threadCount { scratchSlots[i].pointer?.deallocate() }
        scratchSlots.deallocate()
        wakeUp.deallocate()
    }

    /// Runs `body(worker)` once on each of the `threadCount` participants and returns when
    /// all have finished. `worker` is in `0..<threadCount`; 0 is the calling thread.
    public func run(_ body: (Int) -> Void) {
        dispatch(body, everyWorker: true)
    }

    /// Opens a job, runs it on the caller, and closes it: with `everyWorker` after every
    /// worker has run it once, otherwise as soon as the caller is done (workers that joined
    /// meanwhile are waited for; the rest skip the job).
    private func dispatch(_ body: (Int) -> Void, everyWorker: Bool) {
        if threadCount == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            job = body
            finished.store(0, ordering: .relaxed)
            ticket.add(1, ordering: .sequentiallyConsistent)  // odd: open
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wakeUp)
                pthread_mutex_unlock(mutex)
            }
            body(0)
            if everyWorker {
                var polls = 0
                while finished.load(ordering: .acquiring) < threadCount - 1 {
                    polls += 1
                    if polls > 2_000 { sched_yield() }
                }
            }
            ticket.add(1, ordering: .sequentiallyConsistent)  // even: closed
            var polls = 0
            while active.load(ordering: .sequentiallyConsistent) > 0 {
                polls += 1
                if polls > 2_000 { sched_yield() }
            }
            job = nil
        }
    }

    /// Splits `0..<count` into chunks of `chunk` items that the participants claim
    /// dynamically (so a thread slowed by another process does not hold up the rest).
    /// `body` receives each chunk and the index of the participant running it.
    ///
    /// With a `minimumChunk` smaller than `chunk` the chunks taper towards the end: each
    /// claim takes `remaining / (2 · threadCount)` items, at most `chunk` and at least
    /// `minimumChunk`. Equal chunks leave one participant idle for half a chunk on average
    /// at the end of every job (≈ 1/16 of a decode matrix product with eight chunks per
    /// participant); tapered ones end within about `minimumChunk` items of each other.
    public func parallelFor(count: Int, chunk: Int, minimumChunk: Int? = nil, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let chunk = max(1, chunk)
        if threadCount == 1 || count <= chunk { body(0..<count, 0); return }
        nextChunk.store(0, ordering: .relaxed)
        if let minimumChunk, minimumChunk < chunk {
            let smallest = max(1, minimumChunk)
            let divisor = 2 * threadCount
            dispatch({ worker in
                var start = nextChunk.load(ordering: .relaxed)
                while start < count {
                    let size = min(chunk, max(smallest, (count - start) / divisor))
                    let end = min(count, start + size)
                    let (claimed, current) = nextChunk.compareExchange(
                        expected: start, desired: end, ordering: .relaxed)
                    if claimed {
                        body(start..<end, worker)
                        start = nextChunk.load(ordering: .relaxed)
                    } else {
                        start = current
                    }
                }
            }, everyWorker: false)
            return
        }
        dispatch({ worker in
            while true {
                let start = nextChunk.add(chunk, ordering: .relaxed).oldValue
                if start >= count { break }
                body(start..<min(start + chunk, count), worker)
            }
        }, everyWorker: false)
    }

    /// Quantises `count` activations into the pool's shared buffer and returns pointers to
    /// them, valid until the next call (callers hold no reference to the buffer object).
    func quantizeActivations(_ x: UnsafePointer<Float>, count: Int) -> ActivationBlocks {
        quantizedActivations.quantize(x, count: count)
        return ActivationBlocks(quantizedActivations)
    }

    /// Quantises `count` activations for the ternary kernels into the pool's shared buffer,
    /// valid until the next call.
    func quantizeTernaryActivations(_ x: UnsafePointer<Float>, count: Int) -> TernaryActivationBlocks {
        ternaryActivations.quantize(x, count: count)
        return ternaryActivations.blocks
    }

    /// Quantises `tokens` (≤ 8) rows of `columns` activations into `words`, laid out for
    /// ``IntegerLaneBatchKernel`` (the pool's single-token buffer is the per-token scratch).
    func prepareLaneBatch(_ x: UnsafePointer<Float>, tokens: Int, columns: Int, into words: UnsafeMutableRawPointer) {
        IntegerLaneBatchKernel.prepare(x, tokens: tokens, columns: columns, into: words, scratch: quantizedActivations)
    }

    /// Quantises `tokens` rows of `columns` activations into the pool's shared batch buffer
    /// and returns pointers to them, valid until the next call.
    func quantizeActivationBatch(_ x: UnsafePointer<Float>, columns: Int, tokens: Int) -> BatchActivationBlocks {
        quantizedBatch.quantize(x, columns: columns, tokens: tokens)
        return quantizedBatch.blocks
    }

    /// Per-participant float scratch of at least `count` elements, kept between jobs (it is
    /// only reallocated when a larger size is first asked for). Only participant `worker`
    /// may use it, and only until its next call. Aligned to a cache line: the prompt kernel
    /// reads it in 64-byte vectors, and with malloc's 16-byte alignment every such load
    /// straddled two lines in some processes and not in others (SmolLM2 Q4_0 prompt speed at
    /// 2 threads then depended on the process; BENCHMARKS.md, "Kernel design measurements").
    public func scratch(worker: Int, count: Int) -> UnsafeMutablePointer<Float> {
        let slot = scratchSlots + worker
        if slot.pointee.capacity < count {
            slot.pointee.pointer?.deallocate()
            let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            slot.pointee = (raw.bindMemory(to: Float.self, capacity: count), count)
        }
        return slot.pointee.pointer!
    }

    /// A chunk size that gives each participant several chunks of at least `minimum` items.
    public func chunkSize(for count: Int, minimum: Int = 1) -> Int {
        max(minimum, count / (threadCount * 4))
    }

    private func workerLoop(index: Int) {
        var joined = 0
        /// A job this worker has not joined yet is open.
        func newJob(_ t: Int) -> Bool { t & 1 == 1 && t != joined }
        while true {
            var polls = 0
            while !newJob(ticket.load(ordering: .acquiring)) {
                polls += 1
                if polls < spinLimit { continue }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while !newJob(ticket.load(ordering: .sequentiallyConsistent)) {
                    pthread_cond_wait(wakeUp, mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
                polls = 0
            }
            if shuttingDown.load(ordering: .acquiring) {
                alive.subtract(1, ordering: .releasing)
                return
            }
            active.add(1, ordering: .sequentiallyConsistent)
            let t = ticket.load(ordering: .sequentiallyConsistent)
            if newJob(t) {
                job?(index)
                joined = t
                finished.add(1, ordering: .releasing)
            }
            active.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
