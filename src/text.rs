//! Byte-level text: each byte is a token; BOS, EOS and PAD follow (SPEC §1, until a tokenizer lands).

use crate::config::{BYTE_BOS, BYTE_VOCAB};

/// Encodes text as BOS followed by its bytes.
pub fn encode(text: &str) -> Vec<u32> {
    std::iter::once(BYTE_BOS).chain(text.bytes().map(u32::from)).collect()
}

/// Decodes ids to text, dropping special tokens; invalid UTF-8 is replaced.
pub fn decode(ids: &[u32]) -> String {
    let bytes: Vec<u8> = ids.iter().filter(|&&t| t < 256).map(|&t| t as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The vocabulary size of the byte tokenizer.
pub const VOCAB: usize = BYTE_VOCAB;

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let s = "Grüße, brain!";
        let ids = super::encode(s);
        assert_eq!(ids[0], super::BYTE_BOS);
        assert_eq!(super::decode(&ids), s);
    }
}
