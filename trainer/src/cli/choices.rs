//! The command line's choices: clap mirrors of the library's plain enums (the library names no
//! clap type), each converting into its library type. The doc comments are the `--help` text;
//! the value names are the library's JSON / TOML spellings.

use siamedge_trainer::loss::LossKind;
use siamedge_trainer::model::pair_config::MergeOp;
use siamedge_trainer::model::Arch;
use siamedge_trainer::protocol::DataKind;
use siamedge_trainer::train::{OptimizerKind, Schedule};

/// A clap `ValueEnum` mirroring a library enum variant for variant, with `From` into it.
macro_rules! choice {
    ($(#[$m:meta])* $name:ident => $lib:ident { $($(#[$vm:meta])* $v:ident,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl From<$name> for $lib {
            fn from(c: $name) -> Self {
                match c {
                    $($name::$v => $lib::$v,)*
                }
            }
        }
    };
}

choice! {
    /// A data set to train on.
    DataArg => DataKind {
        /// ORL faces, identity-disjoint fold `--fold` (test people 10k..10k+9).
        Orl,
        /// MNIST open set: train on digits 0-4 of the training split, test on digits 5-9 of the
        /// test split.
        Mnist,
        /// Your own images, `--data-dir DIR` with one sub-folder per identity (PNG, JPEG, PGM);
        /// identity-disjoint fold `--fold` of `--folds`.
        Folder,
        /// Your own signatures, `--data-dir DIR` with `WRITER/genuine/*` and `WRITER/forged/*`;
        /// writer-disjoint fold `--fold` of `--folds`, tested against skilled forgeries.
        Signature,
    }
}

choice! {
    /// Which network to train.
    ArchArg => Arch {
        /// Siamese embedding CNN (tied weights).
        Cnn,
        /// 2-channel network: both images stacked as channels, one logit.
        TwoChannel,
        /// Shared towers, then a small classifier over the pair's features, one logit.
        Hybrid,
        /// Two towers merged part way by their feature maps (--merge-after, --merge, --tied),
        /// then shared blocks, one logit (Zagoruyko and Komodakis 2015).
        Merge,
        /// Cross-input neighborhood differences of the towers' maps both ways (--window), one
        /// logit (Ahmed, Jones and Marks 2015).
        CrossInput,
        /// Normalized correlation of --patch patches over a --window search window, one logit
        /// (Subramaniam, Chatterjee and Mittal 2016).
        NormCorr,
    }
}

choice! {
    /// How the intermediate-merging network joins the towers' maps.
    MergeArg => MergeOp {
        /// Concatenate along channels.
        Concat,
        /// Element-wise |f - g| (symmetric in the pair).
        AbsDiff,
    }
}

choice! {
    /// Which loss a run trains with.
    LossArg => LossKind {
        /// Contrastive loss on balanced genuine/impostor pairs.
        Contrastive,
        /// Triplet margin loss on sampled triplets.
        Triplet,
        /// Batch-hard triplet loss on P x K batches.
        BatchHard,
        /// Batch semi-hard triplet loss on P x K batches.
        BatchSemiHard,
        /// Vo & Hays' distance-based logistic loss on balanced pairs.
        Logistic,
        /// Binary log-loss on pair logits (the pair-scoring networks).
        Binary,
        /// CosFace with a learnable class-weight matrix on P x K batches.
        Cosface,
    }
}

choice! {
    /// Which update rule.
    OptimizerArg => OptimizerKind {
        /// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, candle-nn's update rule.
        Adamw,
        /// SGD with heavy-ball momentum and coupled (L2) weight decay, PyTorch's update rule.
        Sgd,
    }
}

choice! {
    /// Learning-rate schedule.
    ScheduleArg => Schedule {
        /// Linear warm-up, then cosine decay to `min_lr_ratio * lr` at the last step.
        Cosine,
        /// Linear warm-up, then constant.
        Constant,
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    /// The flag values are the library's JSON / TOML spellings, so recipes and flags agree.
    fn same_names<C: ValueEnum + Copy, L: From<C> + serde::Serialize>() {
        for c in C::value_variants() {
            let name = c.to_possible_value().unwrap().get_name().to_string();
            let json = serde_json::to_string(&L::from(*c)).unwrap();
            assert_eq!(json, format!("\"{name}\""));
        }
    }

    #[test]
    fn flag_values_are_the_recipe_spellings() {
        same_names::<DataArg, DataKind>();
        same_names::<ArchArg, Arch>();
        same_names::<LossArg, LossKind>();
        same_names::<OptimizerArg, OptimizerKind>();
        same_names::<ScheduleArg, Schedule>();
    }
}
