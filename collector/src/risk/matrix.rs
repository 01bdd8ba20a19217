//! The risk matrix: likelihood (1..4) × impact (1..4) → level. By default the product with bands
//! (1–3 low, 4–7 medium, 8–11 high, 12–16 critical); `[risk.matrix]` moves the bands or gives an
//! explicit 4 × 4 grid.

use super::{Level, RiskError};
use crate::risk::config::MatrixSection;

/// A validated matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    grid: [[Level; 4]; 4],
}

impl Default for Matrix {
    fn default() -> Self {
        Matrix::from_config(&MatrixSection::default())
    }
}

impl Matrix {
    /// Build from the (validated) configuration; unknown grid names fall back to the bands.
    pub fn from_config(c: &MatrixSection) -> Matrix {
        let mut grid = [[Level::Low; 4]; 4];
        for (l, row) in grid.iter_mut().enumerate() {
            for (i, cell) in row.iter_mut().enumerate() {
                let product = ((l + 1) * (i + 1)) as u8;
                let banded = if product >= c.critical {
                    Level::Critical
                } else if product >= c.high {
                    Level::High
                } else if product >= c.medium {
                    Level::Medium
                } else {
                    Level::Low
                };
                *cell = c
                    .grid
                    .as_ref()
                    .and_then(|g| g.get(l)?.get(i))
                    .and_then(|name| Level::parse_field(name, "risk.matrix.grid").ok())
                    .unwrap_or(banded);
            }
        }
        Matrix { grid }
    }

    /// The level of likelihood `l` and impact `i` (both 1..4).
    pub fn level(&self, l: u8, i: u8) -> Result<Level, RiskError> {
        check_scale(l, "likelihood")?;
        check_scale(i, "impact")?;
        Ok(self.grid[l as usize - 1][i as usize - 1])
    }
}

/// Refuse a value outside 1..4, naming the field.
pub fn check_scale(v: u8, field: &str) -> Result<(), RiskError> {
    if (1..=4).contains(&v) {
        Ok(())
    } else {
        Err(RiskError::invalid(
            field,
            format!("{v} must be between 1 and 4"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bands_over_the_product() {
        let m = Matrix::default();
        // 1×3 = 3 → low; 2×2 = 4 → medium; 2×4 = 8 → high; 3×3 = 9 → high; 3×4 = 12 → critical.
        assert_eq!(m.level(1, 3).unwrap(), Level::Low);
        assert_eq!(m.level(2, 2).unwrap(), Level::Medium);
        assert_eq!(m.level(2, 4).unwrap(), Level::High);
        assert_eq!(m.level(3, 3).unwrap(), Level::High);
        assert_eq!(m.level(3, 4).unwrap(), Level::Critical);
        assert_eq!(m.level(4, 4).unwrap(), Level::Critical);
        assert!(m
            .level(0, 1)
            .unwrap_err()
            .to_string()
            .starts_with("likelihood"));
        assert!(m.level(1, 5).unwrap_err().to_string().starts_with("impact"));
    }

    #[test]
    fn explicit_grid_wins() {
        let mut c = MatrixSection::default();
        let mut g = vec![vec!["low".to_string(); 4]; 4];
        g[0][3] = "critical".into();
        c.grid = Some(g);
        let m = Matrix::from_config(&c);
        assert_eq!(m.level(1, 4).unwrap(), Level::Critical);
        assert_eq!(m.level(4, 4).unwrap(), Level::Low);
    }
}
