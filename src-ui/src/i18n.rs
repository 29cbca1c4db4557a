//! Every word the UI shows, in one place per language.

/// A UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Korean.
    Ko,
}

impl Lang {
    /// The browser's preferred language, English when it is neither.
    pub fn detect() -> Self {
        let language = web_sys::window()
            .and_then(|w| w.navigator().language())
            .unwrap_or_default();
        if language.starts_with("ko") {
            Lang::Ko
        } else {
            Lang::En
        }
    }

    /// The BCP-47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }
}

/// A piece of UI text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    Tagline,
    StartCall,
    StartCallHint,
    JoinLabel,
    JoinPlaceholder,
    Join,
    JoinEmpty,
    Settings,
    ServerReady,
    ServerStarting,
    ServerUnavailable,
    NoWebRtcTitle,
    NoWebRtcBody,
    NoWebRtcNoMedia,
    OpenInBrowser,
    OpenedInBrowser,
    OpenFailed,
    Or,
    Home,
}

/// The words for `text` in `lang`.
pub fn t(lang: Lang, text: Text) -> &'static str {
    match lang {
        Lang::En => en(text),
        Lang::Ko => ko(text),
    }
}

fn en(text: Text) -> &'static str {
    use Text::*;
    match text {
        Tagline => "Face-to-face calls with the people around you.",
        StartCall => "Start a call",
        StartCallHint => "You get a room code to share. Nothing leaves your network.",
        JoinLabel => "Join a call",
        JoinPlaceholder => "Room code or invite link",
        Join => "Join",
        JoinEmpty => "Type the room code you were given, or paste the invite link.",
        Settings => "Settings",
        ServerReady => "Ready for calls",
        ServerStarting => "Starting…",
        ServerUnavailable => "The call service isn't running. Restart Peercall to fix this.",
        NoWebRtcTitle => "Calls open in your browser on this computer",
        NoWebRtcBody => "This system's web engine (WebKitGTK) can show Peercall but can't carry video calls. Your browser can: Peercall opens the call there and keeps hosting it from this app.",
        NoWebRtcNoMedia => "This web engine can't use the camera or microphone either.",
        OpenInBrowser => "Open in browser",
        OpenedInBrowser => "Opened in your browser. You can keep this window open: it hosts the call.",
        OpenFailed => "Your browser didn't open. Is a default browser set on this computer?",
        Or => "or",
        Home => "Home",
    }
}

fn ko(text: Text) -> &'static str {
    use Text::*;
    match text {
        Tagline => "가까운 사람들과 얼굴을 보며 통화하세요.",
        StartCall => "통화 시작",
        StartCallHint => "공유할 방 코드가 만들어집니다. 모든 데이터는 내 네트워크 안에 머뭅니다.",
        JoinLabel => "통화 참여",
        JoinPlaceholder => "방 코드 또는 초대 링크",
        Join => "참여",
        JoinEmpty => "받은 방 코드를 입력하거나 초대 링크를 붙여 넣으세요.",
        Settings => "설정",
        ServerReady => "통화 준비 완료",
        ServerStarting => "시작하는 중…",
        ServerUnavailable => "통화 서비스가 실행되지 않고 있습니다. Peercall을 다시 시작해 주세요.",
        NoWebRtcTitle => "이 컴퓨터에서는 통화가 브라우저에서 열립니다",
        NoWebRtcBody => "이 시스템의 웹 엔진(WebKitGTK)은 Peercall을 표시할 수 있지만 영상 통화는 할 수 없습니다. 브라우저에서는 가능합니다. Peercall이 브라우저에서 통화를 열고, 이 앱이 계속 통화를 호스팅합니다.",
        NoWebRtcNoMedia => "이 웹 엔진은 카메라와 마이크도 사용할 수 없습니다.",
        OpenInBrowser => "브라우저에서 열기",
        OpenedInBrowser => "브라우저에서 열었습니다. 이 창은 통화를 호스팅하므로 열어 두세요.",
        OpenFailed => "브라우저가 열리지 않았습니다. 이 컴퓨터에 기본 브라우저가 설정되어 있나요?",
        Or => "또는",
        Home => "홈",
    }
}
