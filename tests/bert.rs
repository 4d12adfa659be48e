//! The BERT port of `examples/bert.rs` (included here) against `transformers.BertModel`: the
//! tiny model of `data/bert-tiny` loads by Hugging Face's names into the derived structs and
//! reproduces its hidden states and pooled output for a padded batch.

#[allow(dead_code)]
#[path = "../examples/bert.rs"]
mod example;

use stensor::nn::Module;

#[test]
fn a_hugging_face_bert_loads_by_its_names_and_matches_its_hidden_states() {
    let model = example::load_model().expect("the tiny model loads strictly");
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in [
        "embeddings.word_embeddings.weight",
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.1.attention.output.LayerNorm.bias",
        "encoder.layer.1.output.dense.weight",
        "pooler.dense.weight",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
    assert_eq!(names.len(), 39);
    let r = example::reference().expect("the reference batch");
    let (hidden, pooled) = model.forward(&r.input_ids, &r.token_type_ids, &r.padding);
    let d = example::max_abs_diff(&hidden.to_vec(), &r.last_hidden_state.to_vec());
    assert!(d < 1e-5, "last_hidden_state off by {d}");
    let d = example::max_abs_diff(&pooled.to_vec(), &r.pooler_output.to_vec());
    assert!(d < 1e-5, "pooler_output off by {d}");
    // the padding matters: without it the padded sequence's states change
    let none = stensor::prelude::Mask::<(usize, usize)>::full_shaped((2, 8), false);
    let (unpadded, _) = model.forward(&r.input_ids, &r.token_type_ids, &none);
    let d = example::max_abs_diff(
        &unpadded.to_vec()[256..],
        &r.last_hidden_state.to_vec()[256..],
    );
    assert!(d > 1e-3, "the mask changed nothing ({d})");
}
