//! A QR code of the device-code page for `--qr`, drawn with Unicode half blocks (two modules per
//! character cell) so a phone camera can read it from the terminal.

use qrcode::{Color, EcLevel, QrCode};

/// `text` as a QR code: dark modules on a light background with the four-module quiet zone the
/// standard asks for, one text line per two module rows, each line ending in a newline.
pub fn render(text: &str) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L)
        .map_err(|e| format!("the URL does not fit in a QR code ({e})"))?;
    let width = code.width();
    let colors = code.to_colors();
    const QUIET: usize = 4;
    let size = width + 2 * QUIET;
    // Light (true) outside the code and for light modules.
    let light = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= width + QUIET || y >= width + QUIET {
            return true;
        }
        colors[(y - QUIET) * width + (x - QUIET)] == Color::Light
    };
    let mut out = String::with_capacity(size * size);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let top = light(x, y);
            let bottom = y + 1 >= size || light(x, y + 1);
            // Light shows as the block, so the code reads right on dark and light terminals.
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_square_with_a_quiet_zone() {
        let qr = render("https://microsoft.com/devicelogin").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        let width = lines[0].chars().count();
        assert!(width >= 21 + 8);
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines[0].chars().all(|c| c == '█'));
        assert!(lines.iter().all(|l| l.chars().count() == width));
    }
}
