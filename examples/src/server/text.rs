//! The Greeter's replies, as pure functions of what it received (no I/O, no gRPC).

/// The reply of `SayHello`: `Hello <name>`.
pub fn hello(name: &str) -> String {
    format!("Hello {name}")
}

/// The four replies of `LotsOfReplies`, in the order they are sent.
pub fn lots_of_replies(name: &str) -> [String; 4] {
    [
        format!("你好{name}"),
        format!("hello{name}"),
        format!("こんにちは{name}"),
        format!("안녕하세요{name}"),
    ]
}

/// The reply of `LotsOfGreetings`: `你好：` followed by every name received, concatenated.
pub fn greetings<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .fold(String::from("你好："), |mut reply, name| {
            reply.push_str(name.as_ref());
            reply
        })
}

/// The reply of `BidiHello` to one message, the classic "AI" that turns questions into answers:
/// `吗` and `吧` are removed, `你` becomes `我`, and `？` and `?` become `!`.
pub fn bidi_reply(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '吗' | '吧'))
        .map(|c| match c {
            '你' => '我',
            '？' | '?' => '!',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_greets_by_name() {
        assert_eq!(hello("world"), "Hello world");
        assert_eq!(hello(""), "Hello ");
    }

    #[test]
    fn lots_of_replies_are_in_language_order() {
        assert_eq!(
            lots_of_replies("Tom"),
            ["你好Tom", "helloTom", "こんにちはTom", "안녕하세요Tom"]
        );
    }

    #[test]
    fn greetings_concatenate_every_name() {
        assert_eq!(greetings(&["张三", "李四", "王五"]), "你好：张三李四王五");
        assert_eq!(greetings::<&str>(&[]), "你好：");
        assert_eq!(greetings(&[String::from("a"), String::new()]), "你好：a");
    }

    #[test]
    fn bidi_turns_questions_into_answers() {
        assert_eq!(bidi_reply("你好吗？"), "我好!");
        assert_eq!(bidi_reply("在吗?"), "在!");
        assert_eq!(bidi_reply("能听懂汉语吗？"), "能听懂汉语!");
        assert_eq!(bidi_reply("走吧"), "走");
        assert_eq!(bidi_reply("你你？?"), "我我!!");
        assert_eq!(bidi_reply("plain text"), "plain text");
        assert_eq!(bidi_reply(""), "");
    }
}
