//! The entropy colour scale of the HTML page: bins, their CSS classes, and the legend.
//!
//! Colours are binned (a CSS class per bin) rather than written per token, so that a page of
//! many thousand tokens stays small and the legend uses exactly the classes the tokens use.

use arpo_core::{Origin, RolloutTree};

use super::escape::escape_html;

/// Number of colour bins between zero entropy and the top of the scale.
pub const ENTROPY_BINS: usize = 10;

/// Where the top of the entropy colour scale lies.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum EntropyScale {
    /// The highest finite model-token entropy in the tree.
    #[default]
    TreeMax,
    /// A fixed top in nats (e.g. `ln |V|` to compare pages of the same model); higher entropies
    /// get the top colour.
    Fixed {
        /// Entropy (nats) that gets the top colour.
        max_nats: f32,
    },
}

/// A resolved scale: entropy in `[0, max]` maps onto the bins.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColourScale {
    max: f32,
}

impl ColourScale {
    /// Resolves `scale` against `tree`; a scale whose top is not a positive finite number
    /// (no model token, all entropies zero) falls back to 1 nat.
    pub fn new(scale: EntropyScale, tree: &RolloutTree) -> Self {
        let max = match scale {
            EntropyScale::Fixed { max_nats } => max_nats,
            EntropyScale::TreeMax => tree
                .nodes
                .iter()
                .flat_map(|n| &n.segments)
                .filter(|s| s.origin == Origin::Model)
                .flat_map(|s| s.entropies.iter().copied())
                .filter(|h| h.is_finite())
                .fold(0.0, f32::max),
        };
        Self {
            max: if max.is_finite() && max > 0.0 {
                max
            } else {
                1.0
            },
        }
    }

    /// CSS class of the bin of entropy `h` (`enan` for a non-finite value).
    pub fn class(&self, h: f32) -> String {
        if !h.is_finite() {
            return "enan".into();
        }
        let bin = (h / self.max * ENTROPY_BINS as f32).floor().max(0.0) as usize;
        format!("e{}", bin.min(ENTROPY_BINS - 1))
    }

    /// One CSS rule per bin, from pale blue (low) through yellow to red (high).
    pub fn css(&self) -> String {
        let mut css = String::from(".enan{background:#d0d0d0}");
        for bin in 0..ENTROPY_BINS {
            let (r, g, b) = bin_colour((bin as f32 + 0.5) / ENTROPY_BINS as f32);
            css.push_str(&format!(".e{bin}{{background:#{r:02x}{g:02x}{b:02x}}}"));
        }
        css
    }

    /// The legend: one swatch per bin with its range in nats.
    pub fn legend_html(&self) -> String {
        let step = self.max / ENTROPY_BINS as f32;
        let mut html = String::from(
            "<div class=\"legend\"><span class=\"lbl\">token entropy (nats):</span> <span>0</span>",
        );
        for bin in 0..ENTROPY_BINS {
            let (lo, hi) = (step * bin as f32, step * (bin + 1) as f32);
            let range = if bin + 1 == ENTROPY_BINS {
                format!("≥ {lo:.3}")
            } else {
                format!("{lo:.3}–{hi:.3}")
            };
            html.push_str(&format!(
                "<span class=\"sw e{bin}\" title=\"{}\"></span>",
                escape_html(&range)
            ));
        }
        html.push_str(&format!(
            "<span>{:.3}</span> <span class=\"sw enan\" title=\"not finite\"></span> not finite \
             <span class=\"lbl\">· prompt and tool tokens are forced (no entropy) · \
             dotted underline: loss mask off · ⑂ fork point</span></div>",
            self.max
        ));
        html
    }
}

/// Colour at `t` in `[0, 1]`: linear between three stops.
fn bin_colour(t: f32) -> (u8, u8, u8) {
    const STOPS: [(f32, [f32; 3]); 3] = [
        (0.0, [232.0, 241.0, 251.0]),
        (0.5, [255.0, 229.0, 138.0]),
        (1.0, [242.0, 107.0, 91.0]),
    ];
    let t = t.clamp(0.0, 1.0);
    let (lo, hi) = if t <= STOPS[1].0 {
        (STOPS[0], STOPS[1])
    } else {
        (STOPS[1], STOPS[2])
    };
    let f = (t - lo.0) / (hi.0 - lo.0);
    let mix = |i: usize| (lo.1[i] + (hi.1[i] - lo.1[i]) * f).round() as u8;
    (mix(0), mix(1), mix(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(max: f32) -> ColourScale {
        ColourScale { max }
    }

    #[test]
    fn bins_cover_zero_to_max_monotonically() {
        let s = scale(2.0);
        assert_eq!(s.class(0.0), "e0");
        assert_eq!(s.class(0.199), "e0");
        assert_eq!(s.class(0.2), "e1");
        assert_eq!(s.class(2.0), "e9");
        assert_eq!(s.class(50.0), "e9");
        assert_eq!(s.class(-1.0), "e0");
        assert_eq!(s.class(f32::NAN), "enan");
    }

    #[test]
    fn colours_run_from_blue_to_red() {
        assert_eq!(bin_colour(0.0), (232, 241, 251));
        assert_eq!(bin_colour(0.5), (255, 229, 138));
        assert_eq!(bin_colour(1.0), (242, 107, 91));
        // Every bin has its own rule and the CSS holds no character that XML would reject.
        let css = scale(1.0).css();
        assert_eq!(css.matches("{background:#").count(), ENTROPY_BINS + 1);
        assert!(!css.contains('<') && !css.contains('&'));
    }
}
