//! The few things `ffmpeg-next` does not wrap: FFmpeg's log, codec
//! parameters' colour and padding fields, muxer capability queries, stream
//! dispositions, plane row sizes. The crate's only `unsafe` code is here;
//! each block says why it is sound.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi as sys;
use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Once;

thread_local! {
    /// The last error FFmpeg logged on this thread (the demuxer and the
    /// muxer log on the thread that calls them).
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

unsafe extern "C" fn log_callback(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    vl: *mut sys::__va_list_tag,
) {
    if level > sys::AV_LOG_ERROR {
        return;
    }
    let mut buf = [0 as c_char; 1024];
    let mut prefix: c_int = 0;
    // SAFETY: FFmpeg calls this with the arguments `av_log` received; they are
    // passed on unchanged to the formatter, which writes at most `buf.len()`
    // bytes including the terminating NUL into `buf`.
    let n = unsafe {
        sys::av_log_format_line2(
            avcl,
            level,
            fmt,
            vl,
            buf.as_mut_ptr(),
            buf.len() as c_int,
            &mut prefix,
        )
    };
    if n < 0 {
        return;
    }
    // SAFETY: av_log_format_line2 NUL-terminates `buf` (truncating if needed).
    let line = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .trim()
        .to_string();
    if !line.is_empty() {
        LAST.with(|l| *l.borrow_mut() = Some(line));
    }
}

/// Initialises FFmpeg once and routes its log into a per-thread "last
/// error" instead of stderr (errors are returned, typed, instead).
pub(crate) fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg::init();
        // SAFETY: log_callback has the signature av_log_set_callback expects
        // and only touches thread-local state.
        unsafe { sys::av_log_set_callback(Some(log_callback)) };
    });
}

/// Takes the last error FFmpeg logged on this thread.
pub(crate) fn last_log() -> Option<String> {
    LAST.with(|l| l.borrow_mut().take())
}

/// Forgets any error logged on this thread so far.
pub(crate) fn clear_log() {
    LAST.with(|l| *l.borrow_mut() = None);
}

/// The byte offset in an FFmpeg message such as
/// `stream 0, offset 0x2110a: partial file`.
pub(crate) fn offset_in(message: &str) -> Option<u64> {
    let at = message.find("offset 0x")? + "offset 0x".len();
    let hex: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    u64::from_str_radix(&hex, 16).ok()
}

/// The byte position of the input's reader, when it has one.
pub(crate) fn io_position(ictx: &ffmpeg::format::context::Input) -> Option<u64> {
    // SAFETY: `ictx` owns a valid AVFormatContext; `pb` is null or a valid
    // AVIOContext owned by it. avio_seek(pb, 0, SEEK_CUR) only reports the position.
    unsafe {
        let pb = (*ictx.as_ptr()).pb;
        if pb.is_null() {
            return None;
        }
        u64::try_from(sys::avio_seek(pb, 0, 1)).ok()
    }
}

/// FFmpeg's `start_time` of an input, in AV_TIME_BASE units (may be AV_NOPTS_VALUE).
pub(crate) fn start_time(ictx: &ffmpeg::format::context::Input) -> i64 {
    // SAFETY: plain field read on a valid AVFormatContext.
    unsafe { (*ictx.as_ptr()).start_time }
}

/// Codec parameters that `ffmpeg-next` does not expose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) width: i32,
    pub(crate) height: i32,
    pub(crate) format: i32,
    pub(crate) sample_rate: i32,
    pub(crate) channels: i32,
    pub(crate) profile: i32,
    pub(crate) level: i32,
    pub(crate) color_range: i32,
    pub(crate) color_primaries: i32,
    pub(crate) color_trc: i32,
    pub(crate) color_space: i32,
    pub(crate) bits_per_raw_sample: i32,
    pub(crate) initial_padding: i32,
    pub(crate) extradata: Vec<u8>,
}

pub(crate) fn params(p: &ffmpeg::codec::Parameters) -> Params {
    // SAFETY: `p` wraps a valid AVCodecParameters; extradata is null or
    // points to `extradata_size` readable bytes.
    unsafe {
        let c = &*p.as_ptr();
        let extradata = if c.extradata.is_null() || c.extradata_size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(c.extradata, c.extradata_size as usize).to_vec()
        };
        Params {
            width: c.width,
            height: c.height,
            format: c.format,
            sample_rate: c.sample_rate,
            channels: c.ch_layout.nb_channels,
            profile: c.profile,
            level: c.level,
            color_range: c.color_range as i32,
            color_primaries: c.color_primaries as i32,
            color_trc: c.color_trc as i32,
            color_space: c.color_space as i32,
            bits_per_raw_sample: c.bits_per_raw_sample,
            initial_padding: c.initial_padding,
            extradata,
        }
    }
}

/// Clears the codec tag of an output stream (a tag from the source container
/// may be invalid in the target) and sets its initial padding.
pub(crate) fn prepare_copy(stream: &mut ffmpeg::format::stream::StreamMut, initial_padding: i32) {
    // SAFETY: the stream belongs to an output context not yet started; its
    // codecpar is valid and owned by it.
    unsafe {
        let par = (*stream.as_mut_ptr()).codecpar;
        (*par).codec_tag = 0;
        if initial_padding > 0 {
            (*par).initial_padding = initial_padding;
        }
    }
}

/// Copies a stream's disposition (default, attached picture, ...).
pub(crate) fn set_disposition(stream: &mut ffmpeg::format::stream::StreamMut, disposition: i32) {
    // SAFETY: plain field write on a valid AVStream.
    unsafe { (*stream.as_mut_ptr()).disposition = disposition };
}

/// The raw disposition of a stream.
pub(crate) fn disposition(stream: &ffmpeg::format::stream::Stream) -> i32 {
    // SAFETY: plain field read on a valid AVStream.
    unsafe { (*stream.as_ptr()).disposition }
}

/// True when the stream is a cover picture rather than video.
pub(crate) fn is_attached_pic(stream: &ffmpeg::format::stream::Stream) -> bool {
    disposition(stream) & sys::AV_DISPOSITION_ATTACHED_PIC != 0
}

/// Whether the output format can hold `id`: `None` when the muxer cannot say.
pub(crate) fn can_hold(fmt: &ffmpeg::format::Output, id: ffmpeg::codec::Id) -> Option<bool> {
    // SAFETY: `fmt` wraps a static AVOutputFormat.
    let r = unsafe { sys::avformat_query_codec(fmt.as_ptr(), id.into(), 0) };
    match r {
        1 => Some(true),
        0 => Some(false),
        _ => None,
    }
}

/// Bytes of picture in one row of `plane` (no padding).
pub(crate) fn row_bytes(format: ffmpeg::format::Pixel, width: u32, plane: usize) -> usize {
    // SAFETY: pure function of its arguments.
    let n = unsafe {
        sys::av_image_get_linesize(
            format.into(),
            width.min(i32::MAX as u32) as c_int,
            plane as c_int,
        )
    };
    usize::try_from(n).unwrap_or(0)
}

/// True when the decoder marked the frame corrupt (concealed errors).
pub(crate) fn frame_corrupt(f: &ffmpeg::frame::Frame) -> bool {
    // SAFETY: plain field reads on a valid AVFrame.
    unsafe {
        let p = &*f.as_ptr();
        p.flags & sys::AV_FRAME_FLAG_CORRUPT != 0 || p.decode_error_flags != 0
    }
}

/// The version string of the FFmpeg libraries in use (`5.1.6-0+deb12u1`).
pub(crate) fn version_info() -> String {
    // SAFETY: returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::av_version_info()) }
        .to_string_lossy()
        .into_owned()
}

/// Asks an opened encoder or decoder context for `threads` threads of the
/// given kinds (1 = frame, 2 = slice).
pub(crate) fn set_threads(ctx: &mut ffmpeg::codec::Context, threads: usize, kinds: i32) {
    // SAFETY: plain field writes on a valid, not yet opened AVCodecContext.
    unsafe {
        let c = &mut *ctx.as_mut_ptr();
        c.thread_count = threads.min(64) as c_int;
        c.thread_type = kinds;
    }
}

/// Sets `bits_per_raw_sample` of an encoder context (24-bit FLAC).
pub(crate) fn set_raw_bits(ctx: &mut ffmpeg::codec::Context, bits: i32) {
    // SAFETY: plain field write on a valid, not yet opened AVCodecContext.
    unsafe { (*ctx.as_mut_ptr()).bits_per_raw_sample = bits };
}

/// A new reference to `p`'s data (no copy, unlike `Packet::clone`, which
/// makes the data writable and so copies it while it is shared): the
/// payload is reference-counted and FFmpeg copies before any writer changes
/// shared bytes. `None` if FFmpeg cannot allocate the reference.
pub(crate) fn packet_ref(p: &ffmpeg::Packet) -> Option<ffmpeg::Packet> {
    use ffmpeg::packet::{Mut, Ref};
    let mut out = ffmpeg::Packet::empty();
    // SAFETY: both point to valid AVPackets; `out` is blank (its fields
    // default, no buffer), as av_packet_ref requires of its destination.
    let r = unsafe { sys::av_packet_ref(out.as_mut_ptr(), p.as_ptr()) };
    (r >= 0).then_some(out)
}

/// Moves the input to the last keyframe of `stream` at or before `ts`
/// (in the stream's time base), as the demuxer's index allows; false when
/// the demuxer cannot seek.
pub(crate) fn seek_stream(
    ictx: &mut ffmpeg::format::context::Input,
    stream: usize,
    ts: i64,
) -> bool {
    let Ok(index) = c_int::try_from(stream) else {
        return false;
    };
    // SAFETY: `ictx` owns a valid, opened AVFormatContext; av_seek_frame
    // only repositions its reader and flushes its packet queues.
    unsafe { sys::av_seek_frame(ictx.as_mut_ptr(), index, ts, sys::AVSEEK_FLAG_BACKWARD) >= 0 }
}

/// True when every frame of codec `id` is coded alone (FFmpeg's
/// `AV_CODEC_PROP_INTRA_ONLY`: MJPEG, ProRes, FFV1, ...).
pub(crate) fn is_intra_only(id: ffmpeg::codec::Id) -> bool {
    // SAFETY: avcodec_descriptor_get returns null or a pointer to a static
    // descriptor.
    unsafe {
        let d = sys::avcodec_descriptor_get(id.into());
        !d.is_null() && (*d).props & sys::AV_CODEC_PROP_INTRA_ONLY != 0
    }
}

/// Makes `f`'s buffers its own (copying them if the decoder, or anything
/// else, still holds a reference): afterwards its samples may be changed
/// without touching a picture the decoder predicts later ones from (or a
/// buffer of sound something else still reads). False when FFmpeg could
/// not allocate the copy.
pub(crate) fn make_writable(f: &mut ffmpeg::frame::Frame) -> bool {
    // SAFETY: `f` wraps a valid AVFrame; av_frame_make_writable either
    // leaves it as it is (every buffer already has one reference) or
    // replaces its buffers with fresh copies, releasing the old references.
    unsafe { sys::av_frame_make_writable(f.as_mut_ptr()) >= 0 }
}

/// The first `n` planes of `f` as disjoint mutable slices, each from its
/// first row to the end of its last row's picture bytes (stride times rows
/// less one, plus a row's bytes); an empty slice for a plane that is missing or laid out
/// bottom-up. Call [`make_writable`] first: the slices are only safe to
/// change when the frame's buffers are its own.
pub(crate) fn planes_mut(f: &mut ffmpeg::frame::Video, n: usize) -> Vec<&mut [u8]> {
    let (format, width) = (f.format(), f.width());
    let n = n.min(f.planes()).min(4);
    let rows: Vec<usize> = (0..n).map(|i| f.plane_height(i) as usize).collect();
    // SAFETY: `f` wraps a valid AVFrame of `format` and `width`, whose
    // plane `i` holds `plane_height(i)` rows of `linesize[i]` bytes from
    // `data[i]` (FFmpeg's allocators reserve at least that). The planes of
    // one frame never overlap, so the slices are disjoint; they borrow `f`
    // mutably, so nothing else reaches the memory while they live.
    unsafe {
        let p = &mut *f.as_mut_ptr();
        (0..n)
            .map(|i| {
                let stride = p.linesize[i];
                let data = p.data[i];
                let rb = row_bytes(format, width, i);
                if data.is_null() || stride <= 0 || rows[i] == 0 || (stride as usize) < rb {
                    return &mut [][..];
                }
                let len = (stride as usize) * (rows[i] - 1) + rb;
                std::slice::from_raw_parts_mut(data, len)
            })
            .collect()
    }
}

/// The planes of decoded audio `f` as disjoint mutable slices, each
/// exactly as long as its samples: one per channel when the format is
/// planar, else one holding every channel interleaved. Empty when the
/// frame does not hold what its format, channel count and sample count
/// say (a null plane, planes shorter than their samples). Call
/// [`make_writable`] first: the slices are only safe to change when the
/// frame's buffers are its own.
pub(crate) fn audio_planes_mut(f: &mut ffmpeg::frame::Audio) -> Vec<&mut [u8]> {
    let channels = usize::from(f.channels());
    let samples = f.samples();
    let format = f.format();
    if channels == 0 || samples == 0 || format == ffmpeg::format::Sample::None {
        return Vec::new();
    }
    let bytes = format.bytes();
    let planar = format.is_planar();
    let (planes, len) = if planar {
        (channels, samples.checked_mul(bytes))
    } else {
        (
            1,
            samples
                .checked_mul(bytes)
                .and_then(|b| b.checked_mul(channels)),
        )
    };
    let Some(len) = len else {
        return Vec::new();
    };
    // SAFETY: `f` wraps a valid AVFrame. For audio, FFmpeg keeps every
    // plane's pointer in `extended_data` (one per channel when planar, one
    // otherwise; `data` holds only the first eight) and every plane's size
    // in bytes in `linesize[0]`; a plane is only read as far as
    // `linesize[0]`, checked to cover its samples. Planes never overlap
    // (separate buffers, or one buffer cut at `linesize[0]` intervals), so
    // the slices are disjoint; they borrow `f` mutably, so nothing else
    // reaches the memory while they live.
    unsafe {
        let p = &mut *f.as_mut_ptr();
        let size = usize::try_from(p.linesize[0]).unwrap_or(0);
        if p.extended_data.is_null() || size < len {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(planes);
        for i in 0..planes {
            let data = *p.extended_data.add(i);
            if data.is_null() {
                return Vec::new();
            }
            out.push(std::slice::from_raw_parts_mut(data, len));
        }
        out
    }
}
